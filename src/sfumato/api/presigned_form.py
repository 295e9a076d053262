"""The receiving end of a presigned POST form (Leonardo's upload flow, served by this server itself): the policy
fields and a `file` in multipart/form-data, 204 when the service keeps it, Leonardo's JSON 4xx else. Oversized
bodies are refused from their Content-Length before a byte is read."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile  # what request.form() makes (FastAPI's UploadFile is a subclass)

from sfumato.api.errors import error_response
from sfumato.services.uploads import UploadRefused

FORM_OVERHEAD = 64 * 1024  # the policy fields around the file in a multipart body


async def receive_form(
    request: Request, max_bytes: int, receive: Callable[[dict[str, str], bytes], object], fields_from: str, what: str
) -> Response:
    """`receive(fields, data)` checks and keeps the file (on a worker thread: it does SQL, decoding and fsync);
    `fields_from` names where the client got the fields ("`fields` from POST /init-image"), `what` the file."""
    declared = int(request.headers.get("content-length") or 0)
    if declared > max_bytes + FORM_OVERHEAD:  # refuse before reading a byte of it
        message = f"EntityTooLarge: the upload is {declared} bytes, the most is {max_bytes}; send a smaller {what}"
        return error_response(400, message, "bad-request", "$.file")
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        message = f"send multipart/form-data: every entry of {fields_from}, then the file as `file`"
        return error_response(400, message, "bad-request", "$")
    try:
        form = await request.form(max_part_size=max_bytes + FORM_OVERHEAD)
    except Exception as exc:  # malformed multipart: a client error, never a 500
        return error_response(400, f"the multipart body could not be read ({exc})", "bad-request", "$")
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    upload = next((v for k, v in form.multi_items() if k.lower() == "file"), None)
    if upload is None:
        await form.close()
        message = f"the form has no `file` part; add the {what} bytes as `file` after the fields"
        return error_response(400, message, "bad-request", "$.file")
    data = await upload.read() if isinstance(upload, UploadFile) else upload.encode("latin-1", "replace")
    await form.close()
    try:
        await run_in_threadpool(receive, fields, data)
    except UploadRefused as exc:
        return error_response(exc.status, exc.message, exc.code, "$.file")
    return Response(status_code=204)
