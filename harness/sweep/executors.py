"""Where a sweep's units of work run: worker processes on this machine, or a Ray cluster.

Both executors take the same :class:`Unit` list and hand every message a worker returns
(``harness.sweep.worker``) to the driver's callback, in the driver's thread; the driver alone
writes the results folder and the cache. A unit asks for one slot of a resource: ``cpu``,
``gpu`` or ``api:<provider>`` (how many API jobs of one provider run at once).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.core.errors import UsageError
from harness.environments.jobs import ENV_NAME_VAR, JobEnv

Message = dict[str, Any]
Handler = Callable[["Unit", Message], None]
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


@dataclass
class Unit:
    """One unit of work: parts (one job or a shard of one each) that share one model."""

    id: str
    parts: list[dict[str, Any]]
    jobs: list[int]
    """Planned-job index of each part."""
    resource: str
    env: JobEnv
    cache: str | None = None
    size: int = 0

    def payload(self, with_cache: bool = True) -> dict[str, Any]:
        """What a worker receives."""
        return {"unit": self.id, "parts": self.parts, "cache": self.cache if with_cache else None}


def thread_env(threads: int) -> dict[str, str]:
    """Numeric-library thread limits for a worker (kept when the user set them)."""
    return {k: os.environ.get(k, str(threads)) for k in THREAD_VARS}


def unit_failed(unit: Unit, message: str, finished: Collection[int] = ()) -> list[Message]:
    """Messages that end a unit whose worker died or could not start: an error for each part
    not already ``finished`` (its ``order`` or ``error`` came), then ``end``."""
    return [{"type": "error", "part": i, "message": message} for i in range(len(unit.parts))
            if i not in finished] + [{"type": "end"}]


class LocalExecutor:
    """Persistent worker processes (``python -m harness.sweep.worker``), one pool per environment;
    at most ``capacity[resource]`` units of each resource at once."""

    def __init__(self, capacity: Mapping[str, int], threads_per_worker: int = 1):
        self.capacity = dict(capacity)
        self.threads = threads_per_worker
        self._idle: dict[str, list[subprocess.Popen]] = {}
        self._all: list[subprocess.Popen] = []

    def _spawn(self, env: JobEnv) -> subprocess.Popen:
        try:
            proc = subprocess.Popen([env.python, "-m", "harness.sweep.worker"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=None, text=True,
                                    env=env.process_env(thread_env(self.threads)), bufsize=1)
        except OSError as exc:
            raise UsageError(f"cannot start a worker in environment {env.name!r} ({env.python}): {exc}") from exc
        self._all.append(proc)
        return proc

    def _run_one(self, unit: Unit, proc: subprocess.Popen, out: queue.Queue) -> None:
        finished: set[int] = set()  # parts whose outcome already went to the driver
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(unit.payload()) + "\n")
            proc.stdin.flush()
            for line in proc.stdout:
                msg = json.loads(line)
                out.put((unit, proc, msg))
                if msg.get("type") == "end":
                    return
                if msg.get("type") in ("order", "error"):
                    finished.add(msg.get("part"))
            code = proc.wait()
            for msg in unit_failed(unit, f"worker process exited with code {code} before finishing", finished):
                out.put((unit, None, msg))
        except (OSError, ValueError) as exc:
            for msg in unit_failed(unit, f"worker process failed: {exc}", finished):
                out.put((unit, None, msg))

    def execute(self, units: Sequence[Unit], handle: Handler) -> None:
        """Run every unit; ``handle(unit, message)`` is called in this thread."""
        pending = list(units)
        used: dict[str, int] = {}
        out: queue.Queue = queue.Queue()
        running = 0
        try:
            while pending or running:
                started = True
                while started:
                    started = False
                    for unit in pending:
                        if used.get(unit.resource, 0) < self.capacity.get(unit.resource, 1):
                            pending.remove(unit)
                            used[unit.resource] = used.get(unit.resource, 0) + 1
                            idle = self._idle.setdefault(unit.env.python, [])
                            proc = idle.pop() if idle else self._spawn(unit.env)
                            threading.Thread(target=self._run_one, args=(unit, proc, out), daemon=True).start()
                            running += 1
                            started = True
                            break
                unit, proc, msg = out.get()
                handle(unit, msg)
                if msg.get("type") == "end":
                    running -= 1
                    used[unit.resource] -= 1
                    if proc is not None and proc.poll() is None:
                        self._idle.setdefault(unit.env.python, []).append(proc)
        finally:
            self.close()

    def close(self) -> None:
        """Stop the worker processes this executor started."""
        for proc in self._all:
            try:
                if proc.stdin:
                    proc.stdin.close()
            except OSError:
                pass
        for proc in self._all:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._all, self._idle = [], {}


def _ray_unit(payload: dict[str, Any]) -> list[Message]:
    """A Ray task: run one unit in the worker and return its messages through the object store."""
    import ray

    from harness.sweep.worker import run_unit

    messages = list(run_unit(payload))
    messages[-1]["node"] = ray.get_runtime_context().get_node_id()
    return messages


class RayExecutor:
    """Units as Ray tasks with resource requests: ``num_cpus=1`` for CPU units, ``num_gpus=1``
    for GPU units, a custom resource ``api_<provider>`` per API unit (its concurrency). Each
    task runs in its environment's interpreter (``runtime_env`` ``py_executable``)."""

    def __init__(self, capacity: Mapping[str, int], address: str | None = None, threads_per_worker: int = 1):
        self.capacity = dict(capacity)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.threads = threads_per_worker

    @staticmethod
    def resource_name(resource: str) -> str:
        """``api:openai`` -> ``api_openai`` (Ray resource names)."""
        return resource.replace(":", "_")

    def _init(self, resources: set[str]) -> Any:
        try:
            import ray
        except ImportError as exc:
            raise UsageError("the Ray executor needs ray: pip install 'visanom[ray]'") from exc
        custom = {self.resource_name(r): float(self.capacity.get(r, 1)) for r in resources if r.startswith("api:")}
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=True)
            else:
                ray.init(num_cpus=self.capacity.get("cpu", 1), num_gpus=self.capacity.get("gpu", 0),
                         resources=custom or None, include_dashboard=False, log_to_driver=True)
        have = ray.cluster_resources()
        missing = [name for name in custom if name not in have]
        if missing:
            raise UsageError(
                f"the Ray cluster has no resource {', '.join(missing)}; start a node with "
                f"ray start ... --resources '{json.dumps({m: custom[m] for m in missing})}'")
        return ray

    def options(self, unit: Unit) -> dict[str, Any]:
        """Ray options of one unit: resources and runtime environment."""
        opts: dict[str, Any] = {"num_cpus": 1, "max_retries": 0}
        if unit.resource == "gpu":
            opts["num_gpus"] = 1
        elif unit.resource.startswith("api:"):
            opts["num_cpus"] = 0
            opts["resources"] = {self.resource_name(unit.resource): 1}
        env_vars = {**thread_env(self.threads), ENV_NAME_VAR: unit.env.name}
        runtime_env: dict[str, Any] = {"env_vars": env_vars}
        if not unit.env.is_current:  # another interpreter: it runs this checkout's harness, like a local worker
            runtime_env["py_executable"] = unit.env.python
            env_vars["PYTHONPATH"] = unit.env.process_env()["PYTHONPATH"]
        opts["runtime_env"] = runtime_env
        return opts

    @staticmethod
    def nodes_share_this_machine(ray: Any) -> bool:
        """True when every live node of the cluster runs on this machine (same IP address as the
        driver): then they see this machine's files, the prediction cache among them."""
        here = ray.util.get_node_ip_address()
        alive = [n for n in ray.nodes() if n.get("Alive")]
        return bool(alive) and all(n.get("NodeManagerAddress") == here for n in alive)

    def execute(self, units: Sequence[Unit], handle: Handler) -> None:
        """Submit every unit and hand its messages to ``handle`` as each finishes. Workers
        read the prediction cache (read-only) when every node runs on this machine; on a
        cluster of other hosts they get no cache path (they may not share this filesystem)."""
        ray = self._init({u.resource for u in units})
        with_cache = self.nodes_share_this_machine(ray)
        remote = ray.remote(_ray_unit)
        refs = {remote.options(**self.options(u)).remote(u.payload(with_cache=with_cache)): u for u in units}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                unit = refs.pop(ref)
                try:
                    messages = ray.get(ref)
                except Exception as exc:  # the task or its worker died
                    messages = unit_failed(unit, f"Ray task failed: {type(exc).__name__}: {exc}"[:1000])
                for msg in messages:
                    handle(unit, msg)
