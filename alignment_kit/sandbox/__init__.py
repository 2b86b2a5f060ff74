"""The worker side of grading: what runs student code inside the grader's sandbox.

Only the grader starts these (`autograder/worker.py`); a student's notebook never imports them.
* `zygote`: the template process that forks one worker per job, with the libraries imported;
* `harness`: what a worker does with a job, from its limits to sending its data;
* `guard`: the limits, the uid drop and the audit hook a worker puts up before student code runs;
* `wire`: the data between the grader and a worker (probe inputs in, observations out).
Workers hand over data only; every judgement is made by the grader, outside them.
"""
