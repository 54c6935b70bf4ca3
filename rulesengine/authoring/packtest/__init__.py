"""``rulesengine test``: the tests a pack keeps in ``tests/*.yaml``, read and checked at their
file:line:col (``read``) and run with both evaluators, with rule coverage (``run``)."""

from .read import Case, Expected, overlay, read_test_file
from .run import (
           EXIT_BROKEN,
           EXIT_FAILED,
           EXIT_OK,
           PackRun,
           compare,
           junit_xml,
           report,
           run_pack,
)

__all__ = ["EXIT_BROKEN", "EXIT_FAILED", "EXIT_OK", "Case", "Expected", "PackRun", "compare",
           "junit_xml", "overlay", "read_test_file", "report", "run_pack"]
