"""nbgrader configuration: solutions/ is the source, notebooks/ the release (student) copy."""
from autograder.editions import ANSWER_STUB  # declared once; the editions translate it

c = get_config()  # noqa: F821 (nbgrader injects get_config)

c.CourseDirectory.root = "."
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.ClearSolutions.code_stub = {"python": "todo()"}
c.ClearSolutions.text_stub = ANSWER_STUB
# The kit's notebooks download nothing and run offline; keep generation deterministic.
c.ClearOutput.enabled = True
# Training cells (and their hidden tests, which re-run them in the kit's worker) take minutes.
c.ExecutePreprocessor.timeout = 1200
