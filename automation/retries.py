"""When a firing whose action failed is tried again: after 1, 2, 4... minutes (at most an
hour apart), ``MAX_ATTEMPTS`` attempts in all, then it is left failed."""

MAX_ATTEMPTS = 8
FIRST_RETRY_S = 60.0
MAX_RETRY_S = 3600.0


def retry_delay_s(attempts: int) -> float | None:
    """Seconds until the next attempt after ``attempts`` attempts (the last one failed);
    None when the firing has had all its attempts."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), MAX_RETRY_S)
