"""Robot embodiments: which dimensions of a robot dataset's state are which URDF joints of which hand.

    spec       the YAML contract (`EmbodimentSpec`), checked against the URDF and the dataset's names
    joints     a robot state in the hand's own joint space (radians) and wrist poses, and back
    propose    a spec proposed from the names (fuzzy match of dimension names to joint names)
    store      specs and which robot episodes follow them, in the annotation store (audited)
    apply      `egocurate ingest --embodiment` and `egocurate embodiment set`: check first, store after
    hand_model the hand drawn from a state (or from retargets) through its URDF, for the viewer and Pairs
"""
