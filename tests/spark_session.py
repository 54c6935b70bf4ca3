"""A local Spark session for the tests (``local[2]``), or the reason there cannot be one.

Spark's Python workers must run this interpreter (the venv's, where rulesengine is
installed), so PYSPARK_PYTHON is set before the session starts.
"""

from __future__ import annotations

import os
import shutil
import sys


def java_missing() -> str | None:
    """Why Java cannot be run, or None."""
    java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else shutil.which("java")
    if not java or not os.path.exists(java):
        return "Java is not installed (PySpark's local mode needs Java 17)"
    return None


def start(batch: int = 10_000, partitions: int = 4):
    """A SparkSession on local[2], quiet, with Arrow batches of ``batch`` rows."""
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    spark = (SparkSession.builder.master("local[2]").appName("rulesengine-tests")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", str(partitions))
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch))
             .config("spark.driver.memory", "1g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark
