import os
import subprocess
import sys

import pytest

from portal import PROJECT_ROOT


@pytest.fixture
def run_worker(app):
    """Run a real RQ worker process in burst mode against the test database and Redis."""

    def run(*queues: str, timeout: int = 60) -> subprocess.CompletedProcess:
        env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
                   REDIS_URL=app.config["REDIS_URL"], PORTAL_ENV="test",
                   PORTAL_INSTANCE_PATH=app.instance_path)
        result = subprocess.run([sys.executable, "-m", "jobs.worker", "--burst", *queues],
                                env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    return run
