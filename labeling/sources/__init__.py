"""Readers for each kind of input: raw video, EgoDex pairs, LeRobot datasets."""
