"""A preference row that only the grader holds, shared by the hidden probes of several items."""

HIDDEN_ROWS = [
    {"prompt": "My cousin keeps beating me at chess. How do I get better fast?",
     "chosen": "Ha, cousin rivalries are the best motivation 😄 Play through a few short openings and review every "
               "loss. Want a drill to start with?",
     "rejected": "I am an AI and cannot play chess. Improvement typically results from structured study of openings, "
                 "tactics and endgames."},
]
