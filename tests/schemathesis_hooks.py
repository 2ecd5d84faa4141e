"""Schemathesis hooks for ``tests/test_api_fuzz.py`` (loaded by ``SCHEMATHESIS_HOOKS``).

The fuzzer runs with an admin key, and ``DELETE /keys/{key_id}`` is one of the operations it
calls: were it to revoke its own key, every later request would get 401 and the run would
report nonsense. The test therefore gives it a second admin key it is allowed to revoke: a
request that would revoke the fuzzer's own key (``GD_FUZZ_OWN_KEY_ID``) revokes that spare key
(``GD_FUZZ_SPARE_KEY_ID``) instead. Every other request goes out as generated.

:func:`filter_failure` says which refusals of schema-valid requests are not findings (the data
the server holds decides them).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Never revoke the key the fuzzer itself uses (revoke the spare key instead)."""
    own = os.environ.get("GD_FUZZ_OWN_KEY_ID")
    if case.method.upper() != "DELETE" or case.path != "/keys/{key_id}" or own is None:
        return
    if str((case.path_parameters or {}).get("key_id")) == own:
        case.path_parameters["key_id"] = int(os.environ["GD_FUZZ_SPARE_KEY_ID"])


DATA_DEPENDENT = frozenset({"off_network", "invalid_input"})
"""422 codes for a request the schema allows but this server's data does not: a point outside the
served region or too far from its roads (``off_network``); an id or value the region or the
database does not know, such as an agency id not in the region file (``invalid_input``). Schema
violations are ``validation_error`` and stay findings."""


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure except "schema-valid request rejected" (ST202) answered by one of the
    :data:`DATA_DEPENDENT` refusals, caused by a null the stateful phase put into a path
    (``/incidents/None``: a link from a response field that was null), or a float with an integral
    value where the API takes an integer (``"priority": 3.0``: JSON Schema's ``integer`` admits it,
    the API's strict types refuse it, as issue 12 asks)."""
    if getattr(failure, "code", "") != "ST202" or response.status_code != 422:
        return True
    if any(value is None for value in (case.path_parameters or {}).values()):
        return False
    try:
        answer = response.json()
    except ValueError:
        return True
    if answer.get("error") == "validation_error" and "valid integer" in answer.get("detail", ""):
        body = case.body if isinstance(case.body, dict) else {}
        if any(isinstance(v, float) and v.is_integer() for v in body.values()):
            return False  # JSON Schema counts 3.0 as an integer; the API refuses it on purpose (strict types)
    return answer.get("error") not in DATA_DEPENDENT
