"""nbgrader configuration: solutions/ is the source, notebooks/ the release (student) copy."""
from nbgrader.converters import GenerateAssignment

from autograder.editions import ANSWER_STUB  # declared once; the editions translate it
from autograder.nbgrader_edition import KeepEdition  # one edition of part 5: KIT_TRACK / --KeepEdition.track

c = get_config()  # noqa: F821 (nbgrader injects get_config)

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.GenerateAssignment.preprocessors = [KeepEdition, *GenerateAssignment.class_traits()["preprocessors"].default()]
c.ClearSolutions.code_stub = {"python": "todo()"}
c.ClearSolutions.text_stub = ANSWER_STUB
# The kit's notebooks download nothing and run offline; keep generation deterministic.
c.ClearOutput.enabled = True
# Training cells (and their hidden tests, which re-run them in the kit's worker) take minutes.
c.ExecutePreprocessor.timeout = 1200
