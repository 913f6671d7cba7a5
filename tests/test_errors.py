from imagegen_mcp.errors import RateLimitError, RequestError, first_error, mask_secret, redact


def test_redact_removes_configured_secrets_and_key_shaped_strings() -> None:
    text = "key sk-or-v1-0123456789abcdef and token hunter2hunter2 leaked"
    out = redact(text, ("hunter2hunter2",))
    assert "0123456789abcdef" not in out
    assert "hunter2hunter2" not in out
    assert "leaked" in out


def test_mask_keeps_only_a_recognisable_prefix() -> None:
    assert mask_secret("sk-or-v1-0123456789abcdef") == "sk-or-v1…def"
    assert mask_secret("short") == "****"


def test_error_text_is_message_then_fix_and_dict_has_code() -> None:
    err = RateLimitError("slow down", "retry after 3 s", retry_after=3)
    assert str(err) == "slow down — retry after 3 s"
    assert err.to_dict() == {"code": "rate_limited", "message": "slow down", "fix": "retry after 3 s"}
    assert err.retryable and not RequestError("x").retryable


def test_first_error_prefers_the_project_error_inside_nested_groups() -> None:
    inner = RequestError("bad")
    group = ExceptionGroup("outer", [ValueError("noise"), ExceptionGroup("inner", [inner])])
    assert first_error(group) is inner
