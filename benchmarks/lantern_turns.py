"""Scripted turns of lantern-road (an action and its narration) that the world-update
benchmarks answer: the same text for every mode they compare."""

TURNS = [
    ("You take the brass lantern from its hook.",
     "The lantern is cold in your hand. Beyond the wall the Thornwood waits."),
    ("You walk to the edge of the Thornwood.",
     "The road narrows between the trees. The first lamp post stands dark."),
    ('You say "Is anyone there?"',
     "Only the wind answers, and somewhere far off a branch cracks."),
    ("You look around.", "Dust drifts in the last of the daylight; nothing moves."),
    ("You light the lantern.", "The wick catches and the shadows jump back from the road."),
]
