"""Teleoperation: an operator's tracked hand drives the arm and the Inspire hand.

schema     the UDP/JSON input packet (what a hand tracker sends)
handmodel  21-keypoint hand layout, joint-angle features, a synthetic hand
filters    One-Euro jitter filter
retarget   keypoints -> Inspire closures (per-operator calibration), wrist pose -> arm joints (clutch + IK)
server     UDP receiver with token authentication
scripted   a scripted operator that sends the same packets (recording without a person)
"""
