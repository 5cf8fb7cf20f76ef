"""The MediaPipe-21 hand skeleton: keypoint order, names, bones. Every module that needs it imports it here.

    0 wrist; thumb 1 CMC, 2 MCP, 3 IP, 4 tip; index 5 MCP, 6 PIP, 7 DIP, 8 tip;
    middle 9-12, ring 13-16, pinky 17-20 (MCP, PIP, DIP, tip)

Inside the project every keypoint array is in this order (`(T, 21, 2|3)`), whatever the source
(MediaPipe, EgoDex's ARKit joints mapped to it, the synthetic demo, a robot hand's matched links).
"""

from __future__ import annotations

N_KEYPOINTS = 21
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
FINGER_JOINTS = {  # the four keypoints of each finger, from the palm outward
    "thumb": ("cmc", "mcp", "ip", "tip"),
    **{finger: ("mcp", "pip", "dip", "tip") for finger in FINGERS[1:]},
}
KEYPOINT_NAMES: tuple[str, ...] = ("wrist",) + tuple(
    f"{finger}_{joint}" for finger in FINGERS for joint in FINGER_JOINTS[finger])

WRIST = 0
THUMB_CMC, THUMB_MCP, THUMB_IP, THUMB_TIP = 1, 2, 3, 4
INDEX_MCP, MIDDLE_MCP, RING_MCP, PINKY_MCP = 5, 9, 13, 17
FINGERTIPS = (4, 8, 12, 16, 20)  # thumb, index, middle, ring, pinky

# The kinematic tree: the parent of each keypoint (the wrist is its own root). Its 20 edges are the
# hand's bones, whose lengths a rigid hand keeps.
PARENT = (0, 0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19)
BONES: tuple[tuple[int, int], ...] = tuple((PARENT[i], i) for i in range(1, N_KEYPOINTS))
FINGER_BONES: tuple[tuple[int, int], ...] = tuple((a, b) for a, b in BONES if a != WRIST)  # 15, thumb first

# What viewers draw: MediaPipe's HAND_CONNECTIONS (the palm drawn across the knuckles, 21 lines).
CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20))

assert len(KEYPOINT_NAMES) == N_KEYPOINTS and len(BONES) == 20 and len(FINGER_BONES) == 15
