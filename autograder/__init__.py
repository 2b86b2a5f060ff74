"""Alignment coursework kit: offline assets, homework settings and the autograder."""
