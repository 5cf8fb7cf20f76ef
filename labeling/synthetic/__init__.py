"""Synthetic demo data with known poses, generated from a seed with no downloads.

Egocentric human clips in the EgoDex layout and robot episodes as a LeRobot v2.1 dataset.

    from labeling.synthetic import generate_demo
    manifest = generate_demo(Path("demo"), seed=0)
"""

from .demo import generate_demo
from .plan import DemoConfig, DemoManifest

__all__ = ["DemoConfig", "DemoManifest", "generate_demo"]
