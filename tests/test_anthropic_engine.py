"""The Anthropic engine against the local fake server (Messages wire format)."""

from __future__ import annotations

import base64

import pytest
from fake_chat_server import FAST_RETRIES, HANG_GUARD_S, FakeChatServer, answer_for

from harness.core.errors import UsageError
from harness.inference.anthropic_engine import AnthropicEngine
from harness.inference.base import ChatRequest, GenerationConfig

KEY = "sk-ant-test-0123456789SECRET"


def engine(srv: FakeChatServer, **kw: object) -> AnthropicEngine:
    kw.setdefault("api_key", KEY)
    kw.setdefault("retry_policy", FAST_RETRIES)
    kw.setdefault("timeout_s", HANG_GUARD_S)  # a held request must not time out on a busy machine
    return AnthropicEngine("claude-test", base_url=srv.url, **kw)  # type: ignore[arg-type]


def req(i: int = 0, system: str | None = None) -> ChatRequest:
    return ChatRequest(f"r{i}", f"Any anomalies? #{i}", b"\x89PNG-fake" + bytes([i]), system=system)


def test_success_text_usage_and_wire_format(srv: FakeChatServer) -> None:
    r = req(0, system="Be brief.")
    (res,) = engine(srv).generate([r], GenerationConfig(max_new_tokens=55, stop=("</x>",)))
    image_b64 = base64.b64encode(r.image_png or b"").decode()
    assert res.error is None and res.text == answer_for(image_b64, r.prompt)
    assert res.usage["prompt_tokens"] > 0 and res.usage["completion_tokens"] > 0
    assert res.meta["finish_reason"] == "end_turn" and res.meta["attempts"] == 1
    sent = srv.requests[0]
    assert sent["path"] == "/v1/messages"
    assert KEY in (sent["headers"].get("x-api-key", "") + sent["headers"].get("authorization", ""))
    body = sent["body"]
    assert body["model"] == "claude-test" and body["max_tokens"] == 55 and body["system"] == "Be brief."
    assert body["temperature"] == 0.0 and "top_p" not in body and body["stop_sequences"] == ["</x>"]
    image, text = body["messages"][0]["content"]
    assert image == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image_b64}}
    assert text == {"type": "text", "text": r.prompt}


@pytest.mark.parametrize("fault", ["429:0", "500", "503", "truncated", "cut", "drop", "empty"])
def test_transient_faults_are_retried(srv: FakeChatServer, fault: str) -> None:
    srv.push(fault)
    (res,) = engine(srv).generate([req()], GenerationConfig())
    assert res.error is None and res.meta["retries"] == 1
    assert [q["fault"] for q in srv.requests] == [fault, "ok"]


def test_bad_request_is_not_retried_and_key_is_redacted(srv: FakeChatServer) -> None:
    srv.push("400-leak")
    (res,) = engine(srv).generate([req()], GenerationConfig())
    assert res.error.startswith("HTTP 400") and len(srv.requests) == 1 and KEY not in res.error


def test_retry_after_is_honoured(srv: FakeChatServer) -> None:
    srv.push("429:1")
    (res,) = engine(srv).generate([req()], GenerationConfig())
    assert res.error is None and srv.requests[1]["t"] - srv.requests[0]["t"] >= 0.95


def test_concurrency_bound(srv: FakeChatServer) -> None:
    srv.overlap_at = 3  # the server answers once 3 requests are in flight together
    out = engine(srv, concurrency=3, timeout_s=HANG_GUARD_S).generate([req(i) for i in range(9)], GenerationConfig())
    assert all(r.error is None for r in out) and srv.max_in_flight == 3


def test_stream_yields_each_result_as_it_completes(srv: FakeChatServer) -> None:
    gate = srv.hold("#0")
    stream = engine(srv, concurrency=2).generate_stream((req(i) for i in range(5)), GenerationConfig())
    assert sorted(next(stream).request_id for _ in range(4)) == ["r1", "r2", "r3", "r4"]
    gate.release()
    assert next(stream).request_id == "r0" and next(stream, None) is None


def test_missing_key_names_the_variable(srv: FakeChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    eng = AnthropicEngine("claude-test", base_url=srv.url)
    with pytest.raises(UsageError, match="ANTHROPIC_API_KEY"):
        eng.generate([req()], GenerationConfig())
    assert srv.requests == []


def test_fingerprint_has_no_key_or_url() -> None:
    a = AnthropicEngine("c", api_key="k1", base_url="http://a").fingerprint()
    assert a == AnthropicEngine("c", api_key="k2", base_url="http://b").fingerprint()
    assert a != AnthropicEngine("c2").fingerprint() != AnthropicEngine("c", max_pixels=10_000).fingerprint()


def test_cards_build_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    import baselines.api_models  # noqa: F401
    from harness.inference.availability import model_availability
    from harness.registry.lazy import make_model

    cards = {"GPT-4o": "OPENAI_API_KEY", "Grok-4-Fast": "XAI_API_KEY", "Llama-4-Maverick": "OPENROUTER_API_KEY",
             "Gemini-2.5-Flash": "GEMINI_API_KEY", "Claude-Sonnet-4.5": "ANTHROPIC_API_KEY"}
    for name, var in cards.items():
        monkeypatch.delenv(var, raising=False)
        model = make_model(name)
        assert model.name == name and model.display["requires"] == var and model.display["group"] == "large VLM"
        assert model_availability(name) == (False, f"{var} not set")
        with pytest.raises(UsageError, match=var):
            model.engine.generate([req()], GenerationConfig())
