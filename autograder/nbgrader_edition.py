"""An nbgrader preprocessor that keeps one edition of part 5 of the source notebook (`editions.of_track`).

nbgrader_config.py puts it first in `generate_assignment`, so nbgrader's own flow releases one
edition and records only its grade cells in the gradebook: `nbgrader generate_assignment dpo_homework`
gives the PPO edition, `--KeepEdition.track=rloo` (or KIT_TRACK=rloo) the RLOO one.
"""
from __future__ import annotations

import os

from nbgrader.preprocessors.base import NbGraderPreprocessor
from traitlets import Unicode

from alignment_kit import tracks
from autograder import editions


class KeepEdition(NbGraderPreprocessor):
    """Drop the cells of the other editions of part 5, and name the edition in the install cell."""

    track = Unicode(os.environ.get("KIT_TRACK", tracks.DEFAULT),
                    help=f"the edition of part 5 to release: {', '.join(tracks.TRACKS)}").tag(config=True)

    def preprocess(self, nb, resources):
        nb.cells = editions.of_track(nb, self.track)["cells"]
        return nb, resources
