"""The run spec wired through: run.json fields, folder layout, hostile names, stale records, migration."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import toy
from extras import need

from harness import registry
from harness.cli.main import main
from harness.core.errors import OutputError, UsageError
from harness.core.spec import RunSpec, slug
from harness.core.types import Sample
from harness.records.store import RUN_SCHEMA, RecordError, inside, read_run
from harness.run.orchestrate import matrix_specs, run_spec, run_specs
from harness.run.runner import Runner

HOSTILE_MODELS = ("../../../escaped", "..", "/tmp/visanom-abs-escape", 'bad<name>"q\'', "a/../../b", ".hidden")
HOSTILE_TASK = "../../hostile-task"


for _name in HOSTILE_MODELS:
    registry.register_model(_name, group="test")(toy.DeviationModel)


@registry.register_task(HOSTILE_TASK, description="hostile sample ids and input hashes")
class HostileTask(toy.ToyTask):
    """Toy series whose sample ids and input hashes are path tricks."""

    name = HOSTILE_TASK
    IDS = ("../../../escaped-sample", "/etc/visanom-abs", "..", "<script>x</script>")

    def count(self, limit: int | None = None) -> int:
        return len(self.IDS) if limit is None else min(limit, len(self.IDS))

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        for i, sid in enumerate(self.IDS[: self.count(limit)]):
            x, _ = toy._series(i)
            yield Sample(id=sid, series=x, input_hash=f"../../../{i}-evil")

    def target(self, sample_id: str):
        return super().target(f"s{self.IDS.index(sample_id):03d}")


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_hostile_names_never_write_outside_output(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "er" / "out"
    before = _files(tmp_path)
    abs_target = Path("/tmp/visanom-abs-escape")
    for model in HOSTILE_MODELS:
        code = main(["run", "--model", model, "--task", f"toy,{HOSTILE_TASK}", "--task-args", "n=3",
                     "--output", str(out), "--no-cache", "--no-progress"])
        assert code == 0, model
    new = _files(tmp_path) - before
    assert new and all(out.resolve() in p.resolve().parents for p in new), sorted(map(str, new))
    assert not abs_target.exists() and not Path("/etc/visanom-abs").exists()
    runs = [read_run(p) for p in out.rglob("run.json")]
    assert sorted({r["model"]["name"] for r in runs}) == sorted(HOSTILE_MODELS)  # the real names, recorded
    assert {r["task"]["name"] for r in runs} == {"toy", HOSTILE_TASK}
    for r, path in ((r, p) for r in runs for p in out.rglob("run.json") if read_run(p)["run_id"] == r["run_id"]):
        assert path.parent.relative_to(out).parts == (slug(r["task"]["name"]), slug(r["model"]["name"]), r["run_id"])
    for part in (p.relative_to(out).parts for p in new):
        assert all(x not in (".", "..") and not x.startswith(".") or x.startswith(".write") for x in part[:-1])
        assert all(c not in x for x in part for c in '<>"\'')
    hostile = [p for p in out.rglob("samples.jsonl") if slug(HOSTILE_TASK) in p.parts]
    lines = [json.loads(line) for p in hostile for line in p.read_text().splitlines()]
    assert {r["sample_id"] for r in lines} == set(HostileTask.IDS)
    for r in lines:  # score and input files named safely, inside the output folder
        assert (hostile[0].parent / r["scores_file"]).resolve().is_relative_to(out.resolve())
        assert (out / r["input"]["series"]).resolve().is_relative_to(out.resolve())


def test_inside_refuses_escapes(tmp_path: Path) -> None:
    assert inside(tmp_path, tmp_path / "a" / "b") == tmp_path / "a" / "b"
    for bad in (tmp_path / ".." / "x", Path("/etc/passwd"), tmp_path / "a" / ".." / ".." / "y"):
        with pytest.raises(OutputError, match="outside the output folder"):
            inside(tmp_path, bad)


def test_run_json_records_the_spec(tmp_path: Path) -> None:
    spec = RunSpec(task="toy", model="toy-deviation", task_args={"n": 4}, model_args={"delay": 0.0}, limit=3)
    res = run_spec(spec, output=tmp_path, cache=None, progress=False, echo=None)
    run = read_run(res.path / "run.json")
    assert run["schema"] == RUN_SCHEMA == "visanom.run/2"
    assert run["spec"] == spec.to_record() and run["spec_id"] == spec.id and run["label"] == spec.label
    assert run["label"] == "toy-deviation (delay=0.0, task.n=4, limit=3)"
    assert run["task"]["args"] == {"n": 4} and run["model"]["args"] == {"delay": 0.0}
    assert run["model"]["name"] == "toy-deviation" and run["draws"] == {"n": 1, "reducer": "first",
                                                                         "reduce_by": None, "seeds": [None]}
    assert run["counts"]["n"] == 3 and "reduced" not in run
    assert res.path.relative_to(tmp_path).parts[:2] == (slug("toy"), slug("toy-deviation"))


def test_card_keeps_registered_name(tmp_path: Path) -> None:
    model = registry.make_model("toy-deviation")
    assert model.registered_name == "toy-deviation" and model.adapter_name == "toy-deviation"


def test_bad_specs_fail_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["run", "--model", "toy-deviation", "--task", "toy", "--output", str(tmp_path), "--no-cache",
            "--no-progress"]
    def code(argv: list[str]) -> int:  # count flags are refused by argparse itself (it exits with 2)
        try:
            return main(argv)
        except SystemExit as exc:
            return int(exc.code or 0)

    for extra, msg in ((["--draws", "0"], "argument --draws: must be at least 1"),
                       (["--limit", "-1"], "argument --limit: must be at least 1"),
                       (["--limit", "0"], "argument --limit: must be at least 1"),
                       (["--reducer", "best"], "needs reduce_by"),
                       (["--batch-size", "0"], "argument --batch-size: must be at least 1"),
                       (["--gen", "temperature=0.7"], "takes no generation settings")):
        assert code([*base, *extra]) == 2, extra
        assert msg in capsys.readouterr().err
    assert code(["run", "--model", ",", "--task", "toy", "--no-progress"]) == 2
    assert "argument --model: no name given" in capsys.readouterr().err
    assert not list(tmp_path.rglob("run.json"))
    with pytest.raises(SystemExit):  # argparse refuses an unknown reducer
        main([*base, "--reducer", "median"])


def test_no_op_rerun_keeps_run_json(tmp_path: Path) -> None:
    """Issue 10 item 6: killing a re-run of a finished folder never leaves it without run.json."""
    spec = RunSpec(task="toy", model="toy-deviation", task_args={"n": 3})
    first = run_spec(spec, output=tmp_path, cache=None, progress=False, echo=None)
    run_path = first.path / "run.json"
    before = run_path.read_bytes()

    class Killed(BaseException):
        pass

    task, model = registry.make_task("toy", n=3), registry.make_model("toy-deviation")

    def dying_samples(limit=None):  # the process is killed while the re-run reads the task
        raise Killed()
        yield  # pragma: no cover

    task.samples = dying_samples
    with pytest.raises(Killed):
        Runner(task, model, tmp_path, spec=spec, progress=False).run()
    assert run_path.read_bytes() == before and read_run(run_path)["status"] == "complete"


def test_rerun_with_work_marks_the_record_stale(tmp_path: Path) -> None:
    spec = RunSpec(task="toy", model="toy-deviation", task_args={"n": 3})
    first = run_spec(spec, output=tmp_path, cache=None, progress=False, echo=None)
    samples = first.path / "samples.jsonl"
    samples.write_text("".join(samples.read_text().splitlines(keepends=True)[:2]))  # one sample to redo

    class Crash(BaseException):
        pass

    class DyingModel(toy.DeviationModel):
        def predict(self, batch):
            raise Crash()

    task = registry.make_task("toy", n=3)
    with pytest.raises(Crash):
        Runner(task, DyingModel(), tmp_path, spec=spec, progress=False).run()
    stale = read_run(first.path / "run.json")
    assert stale["status"] == "stale" and stale["counts"]["n"] == 3
    done = run_spec(spec, output=tmp_path, cache=None, progress=False, echo=None)
    assert done.path == first.path and read_run(first.path / "run.json")["status"] == "complete"
    # --rerun keeps the record too, marked stale until the new one is written
    with pytest.raises(Crash):
        Runner(task, DyingModel(), tmp_path, spec=spec, progress=False, rerun=True).run()
    assert read_run(first.path / "run.json")["status"] == "stale"


def _v1_fixture(run: dict) -> dict:
    """Today's /2 record written back in the /1 format (what older folders hold)."""
    old = {k: v for k, v in run.items() if k not in ("spec", "spec_id", "label", "draws", "reduced")}
    old["schema"] = "visanom.run/1"
    old["task"] = {k: v for k, v in run["task"].items() if k != "args"}
    old["model"] = {k: v for k, v in run["model"].items() if k != "adapter"}
    return old


def test_v1_records_migrate_and_unknown_schemas_are_named(tmp_path: Path) -> None:
    spec = RunSpec(task="toy", model="toy-deviation", task_args={"n": 3}, model_args={"delay": 0.0})
    res = run_spec(spec, output=tmp_path, cache=None, progress=False, echo=None)
    run = read_run(res.path / "run.json")
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps(_v1_fixture(run)))
    migrated = read_run(v1)
    assert migrated["schema"] == RUN_SCHEMA and migrated["migrated_from"] == "visanom.run/1"
    assert migrated["label"] == "toy-deviation (delay=0.0)" and migrated["draws"]["n"] == 1
    assert migrated["metrics"] == run["metrics"] and migrated["model"]["name"] == "toy-deviation"
    assert migrated["spec_id"] == RunSpec(task="toy", model="toy-deviation", model_args={"delay": 0.0}).id
    bad = tmp_path / "v9.json"
    bad.write_text(json.dumps({**run, "schema": "visanom.run/9"}))
    with pytest.raises(RecordError, match=r"unsupported schema 'visanom.run/9'.*visanom.run/2, visanom.run/1"):
        read_run(bad)


def test_orchestrate_validates_all_specs_first(tmp_path: Path) -> None:
    specs = [*matrix_specs(["toy-deviation"], ["toy"], task_args={"n": 2}),
             RunSpec(task="toy", model="no-such-model")]
    with pytest.raises(UsageError, match="unknown model 'no-such-model'"):
        run_specs(specs, output=tmp_path, cache=None, progress=False, echo=None)
    assert not list(tmp_path.rglob("*.json*"))


def test_a_name_given_twice_is_one_spec() -> None:
    specs = matrix_specs(["toy-deviation", "toy-deviation", "toy-seeded"], ["toy", "toy"])
    assert [(s.model, s.task) for s in specs] == [("toy-deviation", "toy"), ("toy-seeded", "toy")]


def test_scores_per_draw_are_distinct_files(tmp_path: Path) -> None:
    """A detector with draws > 1 is re-seeded per draw (its with_draw hook)."""
    need("TSB_AD", "detectors")
    spec = RunSpec(task="toy", model="KMeansAD", task_args={"n": 2}, draws=2, seed=5, reducer="mean")
    res = run_spec(spec, output=tmp_path, cache=None, progress=False, echo=None)
    line = json.loads((res.path / "samples.jsonl").read_text().splitlines()[0])
    assert [d["seed"] for d in line["draws"]] == [5, 6]
    a, b = (np.load(res.path / d["scores_file"]) for d in line["draws"])
    assert not np.array_equal(a, b)  # KMeansAD is seeded: another seed, other scores
    assert res.run["reduced"]["reducer"] == "mean" and len(res.run["reduced"]["per_draw"]) == 2


def test_two_model_args_give_two_leaderboard_rows(tmp_path: Path) -> None:
    """Issue 8 must-show: same model and task, other --model-args: two rows, two labels."""
    from leaderboard.scan import scan_runs
    from leaderboard.summary import summarise

    out = tmp_path / "results"
    for delay in ("0", "0.001"):
        assert main(["run", "--model", "toy-deviation", "--task", "toy", "--task-args", "n=3", "--model-args",
                     f"delay={delay}", "--output", str(out), "--no-cache", "--no-progress"]) == 0
    # the first spec again: its newest run replaces its row, it adds none
    assert main(["run", "--model", "toy-deviation", "--task", "toy", "--task-args", "n=3", "--model-args",
                 "delay=0", "--output", str(out), "--no-cache", "--no-progress", "--rerun"]) == 0
    runs, skipped = scan_runs(out)
    assert not skipped and len(runs) == 2  # --rerun reuses the spec's folder
    (table,) = summarise(runs)["tasks"]
    rows = {r["label"]: r for r in table["rows"]}
    print("\n".join(f"{r['rank']}  {r['label']:45s} {r['spec_id']}  hit={r['headline']['value']:.4f}"
                    for r in table["rows"]))
    assert set(rows) == {"toy-deviation (delay=0, task.n=3)", "toy-deviation (delay=0.001, task.n=3)"}
    assert len({r["spec_id"] for r in table["rows"]}) == 2 and {r["model"] for r in table["rows"]} == {"toy-deviation"}
    from leaderboard.build import build_site

    html = build_site(out, tmp_path / "site").read_text(encoding="utf-8")
    assert all(f"<code>{label}</code>" in html for label in rows)


def test_generation_overrides_make_a_copy_on_the_same_engine() -> None:
    from harness.run.orchestrate import apply_generation

    model = registry.make_model("openai-compat", model="m", base_url="http://127.0.0.1:9", api_key="k")
    hot = apply_generation(model, {"temperature": 0.7, "seed": 3})
    assert hot.engine is model.engine and hot.generation.temperature == 0.7 and hot.generation.seed == 3
    assert model.generation.temperature == 0.0 and hot.fingerprint() != model.fingerprint()
    assert hot.display["generation"]["temperature"] == 0.7 and hot.registered_name == "openai-compat"
    assert hot.with_draw(9).generation.seed == 9 and hot.generation.seed == 3
    with pytest.raises(UsageError, match="unknown generation setting"):
        apply_generation(model, {"temprature": 0.7})
    with pytest.raises(UsageError, match="bad generation settings"):
        apply_generation(model, {"temperature": "hot"})
    for bad, says in (({"max_new_tokens": 0}, "max_new_tokens must be at least 1"), ({"top_p": 5}, "top_p must be in"),
                      ({"temperature": -1}, "temperature must be a finite number >= 0"),
                      ({"seed": -3}, "seed must be at least 0"), ({"max_new_tokens": 2.5}, "max_new_tokens")):
        with pytest.raises(UsageError, match=says):  # were sent to the API as they were
            apply_generation(model, bad)
    with pytest.raises(UsageError, match="generation setting temperature must be"):  # was internal error
        registry.make_model("openai-compat", model="m", base_url="http://127.0.0.1:9", api_key="k", temperature="abc")
    spec = RunSpec(task="t", model="GPT-4o", generation={"temperature": 0.7}, draws=3, seed=1, reducer="majority")
    assert spec.label == "GPT-4o (temperature=0.7, seed=1, n=3, majority)"


def test_incompatible_pair_is_refused_before_any_folder(tmp_path: Path) -> None:
    class TextOnly(toy.DeviationModel):
        provides = frozenset({"text"})

    registry.register_model("toy-text-only", group="test")(TextOnly)
    specs = matrix_specs(["toy-deviation", "toy-text-only"], ["toy"], task_args={"n": 2})
    toy.ToyTask.accepts = frozenset({"scores"})
    try:
        with pytest.raises(UsageError, match="accepts scores output"):
            run_specs(specs, output=tmp_path / "out", cache=None, progress=False, echo=None)
    finally:
        del toy.ToyTask.accepts
    assert not (tmp_path / "out").exists()


def test_reader_takes_a_bom_and_refuses_deep_nesting_with_a_message(tmp_path: Path) -> None:
    spec = RunSpec(task="toy", model="toy-deviation", task_args={"n": 2})
    res = run_spec(spec, output=tmp_path, cache=None, progress=False, echo=None)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b"\xef\xbb\xbf" + (res.path / "run.json").read_bytes())
    assert read_run(bom)["spec_id"] == spec.id
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(RecordError, match="deep.json: not valid JSON"):
        read_run(deep)
