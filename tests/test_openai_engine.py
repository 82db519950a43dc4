"""The OpenAI-compatible engine against a real local HTTP server (tests/fake_chat_server.py)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import pickle
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_chat_server import FAST_RETRIES, HANG_GUARD_S, FakeChatServer, answer_for
from PIL import Image

from harness.answers.parse import parse_answer
from harness.core.errors import UsageError
from harness.core.hashing import array_hash, stable_hash
from harness.core.types import Prediction, Sample, Target
from harness.inference.base import ChatRequest, GenerationConfig
from harness.inference.openai_engine import OpenAICompatEngine
from harness.inference.retry import RetryPolicy, parse_retry_after
from harness.render.plot import render_series
from harness.run.cache import PredictionCache
from harness.run.runner import Runner
from harness.scoring.run_metrics import aggregate_means

KEY = "sk-test-0123456789abcdefSECRET"
PNG = b"\x89PNG\r\n\x1a\nnot-really-a-png"


def engine(srv: FakeChatServer, **kw: Any) -> OpenAICompatEngine:
    kw.setdefault("api_key", KEY)
    kw.setdefault("retry_policy", FAST_RETRIES)
    kw.setdefault("timeout_s", HANG_GUARD_S)  # a held request must not time out on a busy machine
    return OpenAICompatEngine(kw.pop("model", "fake-vlm"), base_url=srv.base_url, **kw)


def req(i: int = 0, system: str | None = None) -> ChatRequest:
    return ChatRequest(f"r{i}", f"Do you see any anomalies? #{i}", PNG + bytes([i]), system=system)


def expected(r: ChatRequest) -> str:
    return answer_for(base64.b64encode(r.image_png or b"").decode(), r.prompt)


# -- success ---------------------------------------------------------------------------


def test_success_text_usage_and_wire_format(srv: FakeChatServer) -> None:
    eng = engine(srv)
    reqs = [req(0, system="You are an analyst."), req(1)]
    out = eng.generate(reqs, GenerationConfig(max_new_tokens=77))
    assert [r.request_id for r in out] == ["r0", "r1"]
    for r, res in zip(reqs, out, strict=True):
        assert res.error is None and res.text == expected(r)
        assert res.usage["completion_tokens"] > 0 and res.usage["prompt_tokens"] > 0
        assert res.usage["total_tokens"] == res.usage["prompt_tokens"] + res.usage["completion_tokens"]
        assert res.meta["finish_reason"] == "stop" and res.meta["attempts"] == 1
        assert res.latency_s > 0
    sent = sorted(srv.requests, key=lambda q: q["body"]["messages"][-1]["content"][-1]["text"])
    first = sent[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["authorization"] == f"Bearer {KEY}"
    body = first["body"]
    assert body["model"] == "fake-vlm" and body["temperature"] == 0.0
    assert body["max_completion_tokens"] == 77 and "top_p" not in body and "seed" not in body
    assert body["messages"][0] == {"role": "system", "content": "You are an analyst."}
    image, text = body["messages"][1]["content"]
    assert image["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(reqs[0].image_png).decode()
    assert text == {"type": "text", "text": reqs[0].prompt}
    assert sent[1]["body"]["messages"][0]["role"] == "user"  # no system turn without a system prompt
    eng.close()


def test_decoding_and_provider_options_reach_the_wire(srv: FakeChatServer) -> None:
    eng = engine(srv, provider="openrouter", extra_body={"provider": {"sort": "price"}}, image_detail="low")
    config = GenerationConfig(max_new_tokens=9, temperature=0.7, top_p=0.9, seed=3, stop=("</end>",))
    (res,) = eng.generate([req()], config)
    assert res.error is None
    body = srv.requests[0]["body"]
    assert body["max_tokens"] == 9 and body["top_p"] == 0.9 and body["seed"] == 3 and body["stop"] == ["</end>"]
    assert body["provider"] == {"sort": "price"}
    assert body["messages"][0]["content"][0]["image_url"]["detail"] == "low"


def test_generate_works_inside_a_running_event_loop(srv: FakeChatServer) -> None:
    eng = engine(srv)

    async def main() -> list[Any]:
        return eng.generate([req()], GenerationConfig())

    (res,) = asyncio.run(main())
    assert res.text == expected(req())


def test_engine_pickles_without_its_loop(srv: FakeChatServer) -> None:
    eng = engine(srv)
    eng.generate([req()], GenerationConfig())
    clone = pickle.loads(pickle.dumps(eng))
    assert clone.fingerprint() == eng.fingerprint()
    assert clone.generate([req(1)], GenerationConfig())[0].text == expected(req(1))


# -- faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["429:0", "500", "503", "truncated", "cut", "drop", "empty"])
def test_transient_faults_are_retried(srv: FakeChatServer, fault: str) -> None:
    eng = engine(srv, timeout_s=HANG_GUARD_S)  # no timeout can fire: the verdict is the count
    srv.push(fault)
    (res,) = eng.generate([req()], GenerationConfig())
    assert res.error is None and res.text == expected(req())
    assert res.meta["retries"] == 1 and len(res.meta["retry_errors"]) == 1
    assert [q["fault"] for q in srv.requests] == [fault, "ok"]


def test_a_timed_out_request_is_retried(srv: FakeChatServer) -> None:
    """The first request gets no reply until the retry arrives, so its timeout must fire, however
    slow the machine. A retry that is itself slow may time out too: every extra attempt must then
    be a timeout of an answered-in-time ``ok`` request, so the verdict does not depend on speed."""
    eng = engine(srv, timeout_s=2)
    srv.push("hang")
    (res,) = eng.generate([req()], GenerationConfig())
    assert res.error is None and res.text == expected(req())
    faults = [q["fault"] for q in srv.requests]
    assert faults[0] == "hang" and set(faults[1:]) == {"ok"}
    assert res.meta["retries"] == len(faults) - 1 >= 1
    assert all("timed out" in e for e in res.meta["retry_errors"])


def test_retries_run_out_into_a_per_request_error(srv: FakeChatServer) -> None:
    eng = engine(srv)
    srv.push("500", "503", "500", "500")  # max_retries=3 -> 4 attempts, all failing
    out = eng.generate([req(0)], GenerationConfig())
    assert out[0].text is None and "HTTP 500" in out[0].error and "after 4 attempts" in out[0].error
    assert len(srv.requests) == 4
    assert eng.generate([req(1)], GenerationConfig())[0].error is None  # the engine carries on


@pytest.mark.parametrize("fault", ["400", "400-leak"])
def test_client_errors_are_not_retried(srv: FakeChatServer, fault: str) -> None:
    eng = engine(srv)
    srv.push(fault)
    (res,) = eng.generate([req()], GenerationConfig())
    assert res.text is None and res.error.startswith("HTTP 400") and len(srv.requests) == 1
    assert KEY not in res.error and KEY not in json.dumps(res.meta)


def test_retry_after_seconds_is_honoured(srv: FakeChatServer) -> None:
    eng = engine(srv)
    srv.push("429:1")
    (res,) = eng.generate([req()], GenerationConfig())
    gap = srv.requests[1]["t"] - srv.requests[0]["t"]
    assert res.error is None and gap >= 0.95  # waited for Retry-After (the backoff alone is ~0.01 s)


def test_retry_after_http_date_is_honoured(srv: FakeChatServer) -> None:
    eng = engine(srv)
    srv.push("429-date:2")  # one-second resolution: the wait is in (1, 2] s
    (res,) = eng.generate([req()], GenerationConfig())
    gap = srv.requests[1]["t"] - srv.requests[0]["t"]
    assert res.error is None and 0.95 <= gap < HANG_GUARD_S  # waited for the date (not the tiny backoff)


def test_parse_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now=now) == pytest.approx(30)
    assert parse_retry_after({"retry-after": formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None and parse_retry_after(None) is None


def test_backoff_is_full_jitter_with_retry_after_floor() -> None:
    policy = RetryPolicy(max_retries=6, base_s=0.5, max_backoff_s=4.0, max_retry_after_s=10.0)
    rng = random.Random(0)
    for n in range(8):
        waits = [policy.delay(n, rng=rng) for _ in range(200)]
        cap = min(4.0, 0.5 * 2**n)
        assert all(0 <= w <= cap for w in waits) and max(waits) > 0.8 * cap
    assert policy.delay(0, retry_after_s=3.0, rng=rng) >= 3.0
    assert policy.delay(0, retry_after_s=99.0, rng=rng) <= 10.0


def test_concurrency_bound_is_respected(srv: FakeChatServer) -> None:
    srv.overlap_at = 4  # the server answers once 4 requests are in flight together
    eng = engine(srv, concurrency=4, timeout_s=HANG_GUARD_S)
    out = eng.generate([req(i) for i in range(12)], GenerationConfig())
    assert all(r.error is None for r in out) and len(srv.requests) == 12
    assert srv.max_in_flight == 4  # all 4 slots were used at once, and never more


def test_stream_yields_each_result_as_it_completes(srv: FakeChatServer) -> None:
    gate = srv.hold("#0")  # r0 is answered only when the test says so
    eng = engine(srv, concurrency=3)
    stream = eng.generate_stream((req(i) for i in range(8)), GenerationConfig())
    first = [next(stream).request_id for _ in range(7)]  # all but r0 complete while r0 is held
    assert sorted(first) == [f"r{i}" for i in range(1, 8)]
    gate.release()
    last = next(stream)
    assert last.request_id == "r0" and last.text == expected(req(0))
    assert next(stream, None) is None


def test_stream_reads_requests_a_window_ahead_and_cancels_when_closed(srv: FakeChatServer) -> None:
    gate = srv.hold("anomalies")
    pulled: list[int] = []

    def source() -> Iterator[ChatRequest]:
        for i in range(100):
            pulled.append(i)
            yield req(i)

    eng = engine(srv, concurrency=2)
    stream = eng.generate_stream(source(), GenerationConfig(), window=5)
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(next, stream)
        gate.wait_arrived(2)  # two slots busy, the rest of the window waits for a slot
        gate.release()
        assert job.result(timeout=60).error is None
    assert pulled == [0, 1, 2, 3, 4]  # the window, not the whole source
    stream.close()  # cancels what is in flight; nothing more is read
    assert pulled == [0, 1, 2, 3, 4]


def test_engines_of_one_provider_share_their_slots() -> None:
    with FakeChatServer() as own:  # its own URL, so no other test's engine shares the pool
        gate = own.hold("anomalies")
        small, big = engine(own, concurrency=2), engine(own, concurrency=3)
        with ThreadPoolExecutor(2) as pool:
            jobs = [pool.submit(e.generate, [req(i) for i in range(6)], GenerationConfig()) for e in (small, big)]
            gate.wait_arrived(3)
            own.wait_in_flight(3)
            # read while every request is held (none can complete, so the count has no
            # transient overlap between a reply and the next request)
            held_max = own.max_in_flight
            limiter = small._limiter
            gate.release()
            outs = [j.result(timeout=60) for j in jobs]
        assert all(r.error is None for out in outs for r in out)
        assert held_max == 3  # one pool as large as the largest engine's, not 2 + 3
        assert limiter is not None and limiter is big._limiter and limiter.size == 3
        small.close()
        big.close()


def test_an_image_is_encoded_once_for_repeated_requests(srv: FakeChatServer) -> None:
    from harness.inference import api_base

    png = render_series(np.cos(np.arange(200) / 3.0), 7)
    before = api_base._IMAGES.hits
    out = engine(srv).generate([ChatRequest(f"d{i}", f"draw {i}", png) for i in range(3)], GenerationConfig())
    assert all(r.error is None for r in out) and api_base._IMAGES.hits - before == 2
    urls = {q["body"]["messages"][0]["content"][0]["image_url"]["url"] for q in srv.requests}
    assert urls == {"data:image/png;base64," + base64.b64encode(png).decode()}


# -- keys, providers, fingerprints ---------------------------------------------------------


@pytest.mark.parametrize(("provider", "var"), [("openai", "OPENAI_API_KEY"), ("xai", "XAI_API_KEY"),
                                               ("gemini", "GEMINI_API_KEY"),
                                               ("openrouter", "OPENROUTER_API_KEY")])
def test_missing_key_is_a_usage_error_naming_the_variable(srv: FakeChatServer, monkeypatch: pytest.MonkeyPatch,
                                                          provider: str, var: str) -> None:
    monkeypatch.delenv(var, raising=False)
    eng = OpenAICompatEngine("m", provider=provider, base_url=srv.base_url)  # construction needs no key
    assert eng.fingerprint()
    with pytest.raises(UsageError, match=var):
        eng.generate([req()], GenerationConfig())
    assert srv.requests == []  # nothing was sent


def test_custom_key_variable_and_key_from_environment(srv: FakeChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MY_GATEWAY_KEY", raising=False)
    eng = OpenAICompatEngine("m", base_url=srv.base_url, api_key_env="MY_GATEWAY_KEY", retry_policy=FAST_RETRIES)
    with pytest.raises(UsageError, match="MY_GATEWAY_KEY"):
        eng.generate([req()], GenerationConfig())
    monkeypatch.setenv("MY_GATEWAY_KEY", KEY)
    assert eng.generate([req()], GenerationConfig())[0].error is None
    assert srv.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"


def test_rejected_key_stops_the_run(srv: FakeChatServer) -> None:
    eng = engine(srv)
    srv.push("401")
    with pytest.raises(UsageError, match="rejected the credentials"):
        eng.generate([req()], GenerationConfig())
    assert len(srv.requests) == 1


def test_vllm_serve_needs_a_base_url_but_no_key(srv: FakeChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UsageError, match="base_url"):
        OpenAICompatEngine("m", provider="vllm-serve").generate([req()], GenerationConfig())
    eng = OpenAICompatEngine("m", provider="vllm-serve", base_url=srv.base_url, retry_policy=FAST_RETRIES)
    assert eng.generate([req()], GenerationConfig())[0].error is None


def test_bad_settings_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown provider"):
        OpenAICompatEngine("m", provider="nope")
    with pytest.raises(UsageError, match="image_detail"):
        OpenAICompatEngine("m", image_detail="ultra")


def test_fingerprint_has_no_key_or_url_and_changes_with_settings() -> None:
    a = OpenAICompatEngine("m", provider="xai", api_key="k1", base_url="http://a")
    b = OpenAICompatEngine("m", provider="xai", api_key="k2", base_url="http://b")
    assert a.fingerprint() == b.fingerprint()
    others = [OpenAICompatEngine("m2", provider="xai"), OpenAICompatEngine("m", provider="openrouter"),
              OpenAICompatEngine("m", provider="xai", image_detail="high"),
              OpenAICompatEngine("m", provider="xai", max_pixels=500_000),
              OpenAICompatEngine("m", provider="xai", extra_body={"reasoning_effort": "low"})]
    assert len({a.fingerprint(), *(e.fingerprint() for e in others)}) == 6


def test_pixel_budget_shrinks_the_image_and_records_it(srv: FakeChatServer) -> None:
    png = render_series(np.sin(np.arange(300) / 7.0), 1000)
    eng = engine(srv, max_pixels=100_000)
    (res,) = eng.generate([ChatRequest("r", "anomalies?", png)], GenerationConfig())
    assert res.error is None and res.meta["image"]["resized"] is True
    url = srv.requests[0]["body"]["messages"][0]["content"][0]["image_url"]["url"]
    w, h = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size
    assert w * h <= 100_000 and [w, h] == res.meta["image"]["to"]


# -- end to end through the runner -----------------------------------------------------------


class PlotTask:
    """Four rendered windows with a prompt each; the metric counts parsed intervals."""

    name = "plot-mini"
    version = "1"

    def count(self, limit: int | None = None) -> int:
        return 4 if limit is None else min(limit, 4)

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        for i in range(self.count(limit)):
            x = np.sin(np.arange(200) / 5.0) + (np.arange(200) == 50 + 10 * i) * 3.0
            prompt = "Do you see any anomalies on this plot?"
            yield Sample(id=f"w{i}", series=x, index_offset=0, image=render_series(x, 0), prompt=prompt,
                         input_hash=stable_hash([array_hash(x), prompt]))

    def target(self, sample_id: str) -> Target:
        return Target(labels=np.zeros(200, dtype=np.int8))

    def postprocess(self, prediction: Prediction, sample: Sample) -> Prediction:
        parsed = parse_answer(prediction.text)
        prediction.intervals = parsed.intervals
        return prediction

    def score_sample(self, prediction: Prediction, sample: Sample) -> dict[str, Any]:
        return {"n_intervals": float(len(prediction.intervals or ()))}

    def aggregate(self, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return aggregate_means(records, headline="n_intervals")

    def fingerprint(self) -> str:
        return stable_hash([self.name, self.version])

    def describe(self) -> dict[str, Any]:
        return {"title": "plot mini"}


def _run(srv: FakeChatServer, tmp_path: Path, cache_path: Path) -> Path:
    import baselines.api_models  # noqa: F401  (registers the adapters)
    from harness.registry.lazy import make_model

    model = make_model("openai-compat", model="fake-vlm", base_url=srv.base_url, api_key=KEY, concurrency=2)
    model.engine.retry_policy = FAST_RETRIES
    result = Runner(PlotTask(), model, tmp_path / "out", cache=PredictionCache(cache_path), progress=False).run()
    assert result.run["counts"]["n_ok"] == 4 and result.run["counts"]["n_failed"] == 0
    assert result.run["usage"]["completion_tokens"] > 0
    return result.path


def test_runner_end_to_end_never_records_the_key(srv: FakeChatServer, tmp_path: Path, cache_path: Path) -> None:
    srv.push("429:0", "drop")
    path = _run(srv, tmp_path, cache_path)
    records = [json.loads(line) for line in (path / "samples.jsonl").read_text().splitlines()]
    assert all(r["intervals"] for r in records) and any(r["pred_meta"].get("retries") for r in records)
    assert all(q["body"]["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
               for q in srv.requests)
    blobs = {p.name: p.read_bytes() for p in [*path.rglob("*"), *cache_path.parent.glob(cache_path.name + "*")]
             if p.is_file()}
    assert "run.json" in blobs and "samples.jsonl" in blobs and cache_path.name in blobs
    for name, data in blobs.items():
        assert KEY.encode() not in data, name
        if name != "run.json":
            assert srv.base_url.encode() not in data, name


def test_runner_never_records_the_base_url(srv: FakeChatServer, tmp_path: Path, cache_path: Path) -> None:
    path = _run(srv, tmp_path, cache_path)
    assert srv.base_url not in (path / "run.json").read_text()


class NamedPromptTask(PlotTask):
    """PlotTask whose prompts name their sample, so a gate can hold one of them; w2 has no plot."""

    name = "plot-mini-named"

    def samples(self, limit: int | None = None) -> Iterator[Sample]:
        for s in super().samples(limit):
            if s.id == "w2":
                yield Sample(id=s.id, series=s.series, index_offset=0, error="no plot for this window",
                             input_hash=s.input_hash)
                continue
            yield Sample(id=s.id, series=s.series, index_offset=0, image=s.image, prompt=f"{s.prompt} [{s.id}]",
                         input_hash=stable_hash([s.input_hash, s.id]))


def test_runner_writes_each_record_as_its_sample_is_answered(srv: FakeChatServer, tmp_path: Path,
                                                             cache_path: Path) -> None:
    import baselines.api_models  # noqa: F401  (registers the adapters)
    from harness.registry.lazy import make_model

    gate = srv.hold("[w0]")  # w0's answer waits until the other records are on disk
    srv.push_for("[w1]", "500")  # w1 is retried
    srv.push_for("[w3]", "400")  # w3 fails alone
    model = make_model("openai-compat", model="fake-vlm", base_url=srv.base_url, api_key=KEY, concurrency=2,
                       batch_size=4)
    model.engine.retry_policy = FAST_RETRIES
    runner = Runner(NamedPromptTask(), model, tmp_path / "out", cache=PredictionCache(cache_path), progress=False)
    lines = runner.dir.path / "samples.jsonl"
    with ThreadPoolExecutor(1) as pool:
        job = pool.submit(runner.run)
        deadline = time.monotonic() + 60  # a hang guard only
        while not (lines.exists() and len(lines.read_text().splitlines()) == 3):
            assert time.monotonic() < deadline and not job.done(), "the other records were not written"
            time.sleep(0.01)
        written = [json.loads(line) for line in lines.read_text().splitlines()]
        assert sorted(r["sample_id"] for r in written) == ["w1", "w2", "w3"]  # w0 is still in flight
        gate.release()
        result = job.result(timeout=60)
    records = {r["sample_id"]: r for r in map(json.loads, lines.read_text().splitlines())}
    assert records["w0"]["error"] is None and records["w0"]["intervals"]
    assert records["w2"]["error"] == "input: no plot for this window"
    assert records["w1"]["error"] is None and records["w1"]["pred_meta"]["retries"] == 1
    assert "HTTP 500" in records["w1"]["pred_meta"]["retry_errors"][0]
    assert records["w3"]["error"].startswith("HTTP 400") and records["w3"]["pred_meta"]["attempts"] == 1
    assert result.run["counts"]["n_failed"] == 2
    blobs = b"".join(p.read_bytes() for p in result.path.rglob("*") if p.is_file())
    assert KEY.encode() not in blobs


def test_provider_slots_survive_cancelled_waiters() -> None:
    from harness.inference.api_base import _Limiter

    async def main() -> None:
        slots = _Limiter()
        slots.register(1, 1)
        await slots.acquire()
        waiting = [asyncio.ensure_future(slots.acquire()) for _ in range(2)]
        await asyncio.sleep(0)
        waiting[0].cancel()  # gives up while queued: takes no slot
        slots.release()  # the slot goes to the next waiter still waiting
        await asyncio.wait_for(waiting[1], 30)
        assert slots.in_use == 1 and waiting[0].cancelled()
        granted = asyncio.ensure_future(slots.acquire())
        await asyncio.sleep(0)
        slots.release()  # granted to `granted`...
        granted.cancel()  # ...which is cancelled before it runs: the slot comes back
        with contextlib.suppress(asyncio.CancelledError):
            await granted
        assert slots.in_use == 0
        slots.register(2, 3)  # a larger engine of the same provider widens the pool
        for _ in range(3):
            await asyncio.wait_for(slots.acquire(), 30)
        assert slots.in_use == 3

    asyncio.run(main())
