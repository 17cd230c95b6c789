"""A small Streamlit websocket client: one browser tab's worth of protocol, without the browser.

Shared by ``python -m bench.load`` and ``tests/test_load.py``; no pytest in here, and nothing of
Streamlit but its protobuf modules (``streamlit.proto``), which are the wire format.

How it connects — what the real frontend (Streamlit 1.67's ``index.*.js``) does:

1. ``GET /_stcore/health``: the server answers ``ok`` and sets the ``_streamlit_xsrf`` cookie
   (XSRF protection stays on, as in ``.streamlit/config.toml``).
2. A websocket to ``/_stcore/stream`` with the subprotocols ``["streamlit", <xsrf cookie value>]``
   (the frontend's ``new WebSocket(uri, ["streamlit", ...sessionTokens])``), the cookie in a
   ``Cookie`` header and a same-origin ``Origin`` header. The server selects ``streamlit`` and
   checks the token against the cookie (it gates the auth cookie with it).
3. Each script run is asked for with a ``BackMsg.rerun_script`` (a ``ClientState``): the first with
   ``page_name`` = the URL path (``nifty``) and the link's query string, later ones with the
   ``page_script_hash`` the server navigated to and the query string it last wrote
   (``page_info_changed``), plus the widget states — as the frontend's ``sendRerunBackMsg``.
4. The server streams ``ForwardMsg``s: ``new_session``, ``navigation``, ``delta``s (elements and
   blocks; every widget carries its ``id``, ``$$ID-<hash>-<user key>``), ``page_info_changed``,
   and last ``script_finished``. No ``cached_message_hashes`` are sent, so every element comes in
   full (never as a ``ref_hash``).

A widget drawn inside an ``st.fragment`` (its delta carries the ``fragment_id``) reruns that fragment
alone, as in the browser: the ``rerun_script`` names the ``fragment_id``, the server answers with
the fragment's elements and ``FINISHED_FRAGMENT_RUN_SUCCESSFULLY``, and the rest of the page —
its widgets, its query string — stays as the last runs left it.

Widget states follow the frontend's ``WidgetStateManager``: a value the user set is sent with every
later rerun while its widget is on the page; a button's ``trigger_value`` is sent once; a widget the
script itself changed (``set_value`` in its proto, e.g. the day after "Next day ▶") drops the stored
value, so the server's value stands, as the frontend adopts it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from http.cookies import SimpleCookie
from typing import Any

from google.protobuf.message import Message
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

XSRF_COOKIE = "_streamlit_xsrf"
STREAM_PATH = "/_stcore/stream"
HEALTH_PATH = "/_stcore/health"
#: ``$$ID-<hash>-<user key>`` (``None`` as the key of a widget without one).
ELEMENT_ID = re.compile(r"^\$\$ID-[0-9a-f]+-(?P<key>.*)$")
#: Widget kinds whose value this client can set, and the ``WidgetState`` field each uses
#: (``streamlit/elements/widgets/*.py``: the ``value_type`` of each widget's registration).
VALUE_FIELDS = {
    "button": "trigger_value",
    "multiselect": "string_array_value",
    "selectbox": "string_value",
    "radio": "string_value",
    "date_input": "string_array_value",
    "slider": "double_array_value",
    "number_input": "double_value",
    "checkbox": "bool_value",
}
FINISHED_OK = ForwardMsg.ScriptFinishedStatus.Name(ForwardMsg.FINISHED_SUCCESSFULLY)
FRAGMENT_FINISHED_OK = ForwardMsg.ScriptFinishedStatus.Name(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
ALERT_ERROR = 1  # Alert.Format.ERROR
ALERT_WARNING = 2  # Alert.Format.WARNING


class SessionError(RuntimeError):
    """The session could not go on: no connection, a timeout, a disconnect, a protocol surprise."""


def xsrf_token(base_url: str, timeout_s: float = 10.0) -> str:
    """The ``_streamlit_xsrf`` cookie the server sets on ``/_stcore/health`` (as the frontend gets it)."""
    with urllib.request.urlopen(f"{base_url}{HEALTH_PATH}", timeout=timeout_s) as reply:
        headers = reply.headers.get_all("Set-Cookie") or []
    for header in headers:
        cookie = SimpleCookie()
        cookie.load(header)
        if XSRF_COOKIE in cookie:
            return cookie[XSRF_COOKIE].value
    raise SessionError(f"{base_url}{HEALTH_PATH} set no {XSRF_COOKIE} cookie (is server.enableXsrfProtection off?)")


@dataclasses.dataclass(frozen=True)
class Widget:
    """A widget as the last script run drew it: its element ``id``, kind (proto field) and proto, and
    the ``st.fragment`` that drew it (``fragment_id``; ``""`` outside a fragment)."""

    id: str
    kind: str
    label: str
    proto: Message
    fragment_id: str = ""


@dataclasses.dataclass
class RunResult:
    """What one script run sent back.

    Attributes:
        seconds: from sending the ``rerun_script`` to receiving ``script_finished``.
        status: the ``script_finished`` status name (``FINISHED_SUCCESSFULLY``, or
            ``FINISHED_FRAGMENT_RUN_SUCCESSFULLY`` for a fragment's run, …), ``None`` if none came.
        fragment_id: the fragment this run reran (a widget inside one was changed), ``""`` for the script.
        widgets: the keyed widgets of the run, by user key.
        charts: each keyed ``st.plotly_chart``'s ``PlotlyChart`` proto, serialised deterministically.
        chart_seconds: when each keyed chart arrived (seconds after the request).
        errors: every exception element, ``st.error``, ``page_not_found`` and compile error, as text.
        warnings: every ``st.warning`` body.
        query_string: the page's query string after this run: the one the server last wrote
            (``page_info_changed``), else the one it had before (a fragment's run leaves the URL be).
    """

    seconds: float = 0.0
    status: str | None = None
    widgets: dict[str, Widget] = dataclasses.field(default_factory=dict)
    charts: dict[str, bytes] = dataclasses.field(default_factory=dict)
    chart_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    errors: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    query_string: str = ""
    fragment_id: str = ""

    @property
    def finished(self) -> bool:
        """A ``script_finished`` with ``FINISHED_SUCCESSFULLY`` arrived (``FINISHED_FRAGMENT_RUN_SUCCESSFULLY``
        for a fragment's run)."""
        return self.status == (FRAGMENT_FINISHED_OK if self.fragment_id else FINISHED_OK)

    @property
    def query(self) -> dict[str, str]:
        """The query string as a dict (last value of each name)."""
        return dict(urllib.parse.parse_qsl(self.query_string, keep_blank_values=True))


def widget_state(widget: Widget, value: Any) -> WidgetState:
    """The ``WidgetState`` the frontend sends for ``widget`` set to ``value``.

    ``value``: a button ignores it (a click); multiselect: a sequence of option labels; selectbox and
    radio: an option label; date_input: a ``datetime.date`` or ISO text (or a sequence for a range);
    slider: a number (or a pair); number_input: a number; checkbox/toggle: a bool.
    """
    field = VALUE_FIELDS.get(widget.kind)
    if field is None:
        raise TypeError(f"widget {widget.id!r} is a {widget.kind!r}; this client sets only {sorted(VALUE_FIELDS)}")
    state = WidgetState(id=widget.id)
    if field == "trigger_value":
        state.trigger_value = True
    elif field == "string_array_value":
        items = [value] if isinstance(value, str | dt.date) else list(value)
        texts = [item.isoformat() if isinstance(item, dt.date) else str(item) for item in items]
        state.string_array_value.data.extend(texts)
    elif field == "string_value":
        state.string_value = str(value)
    elif field == "double_array_value":
        items = list(value) if isinstance(value, Sequence) else [value]
        state.double_array_value.data.extend(float(item) for item in items)
    elif field == "double_value":
        state.double_value = float(value)
    else:
        state.bool_value = bool(value)
    return state


class StreamlitSession:
    """One Streamlit session over a websocket; ``async with StreamlitSession(url) as session: ...``.

    Args:
        base_url: ``http://127.0.0.1:PORT`` of a running server.
        timeout_s: the longest one script run may take before :class:`SessionError`.
    """

    def __init__(self, base_url: str, *, timeout_s: float = 120.0) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0; got {timeout_s!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.page_script_hash = ""
        self.query_string = ""
        self.widgets: dict[str, Widget] = {}
        self._states: dict[str, WidgetState] = {}
        self._socket: ClientConnection | None = None

    async def __aenter__(self) -> StreamlitSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Fetch the XSRF cookie and open the websocket as the frontend does."""
        token = await asyncio.to_thread(xsrf_token, self.base_url)
        ws_url = "ws" + self.base_url.removeprefix("http") + STREAM_PATH
        try:
            self._socket = await connect(
                ws_url,
                subprotocols=["streamlit", token],  # type: ignore[list-item]
                origin=self.base_url,  # type: ignore[arg-type]
                additional_headers={"Cookie": f"{XSRF_COOKIE}={token}"},
                max_size=None,  # a comparison chart with five 128-px maps is about 1 MB
                open_timeout=self.timeout_s,
            )
        except (OSError, WebSocketException, TimeoutError) as error:
            raise SessionError(f"could not open {ws_url}: {error!r}") from error
        if self._socket.subprotocol != "streamlit":
            raise SessionError(f"{ws_url} selected subprotocol {self._socket.subprotocol!r}, not 'streamlit'")

    async def close(self) -> None:
        """Close the websocket (the server ends the session); safe to call twice."""
        if self._socket is not None:
            await self._socket.close()
            self._socket = None

    async def open(self, page: str, query: Mapping[str, str] | str = "") -> RunResult:
        """Open ``/<page>?<query>`` in this session (its first run, as when a link is followed)."""
        self.query_string = query if isinstance(query, str) else urllib.parse.urlencode(query)
        self.page_script_hash = ""
        return await self._run(page_name=page)

    async def click(self, key: str) -> RunResult:
        """Click the button with user key ``key`` and wait for the run it causes."""
        return await self.set_value(key, True)

    async def set_value(self, key: str, value: Any) -> RunResult:
        """Set the widget with user key ``key`` to ``value`` (see :func:`widget_state`); wait for the run."""
        widget = self.widgets.get(key)
        if widget is None:
            raise KeyError(f"no widget with key {key!r} in the last run; keys: {sorted(self.widgets)}")
        self._states[widget.id] = widget_state(widget, value)
        return await self._run(fragment_id=widget.fragment_id)  # a widget in a fragment reruns only it

    async def rerun(self) -> RunResult:
        """Rerun the script with the current widget states (the "R" key)."""
        return await self._run()

    async def _run(self, page_name: str = "", fragment_id: str = "") -> RunResult:
        if self._socket is None:
            raise SessionError("the session is not connected; use `async with StreamlitSession(...)`")
        message = BackMsg()
        client_state = message.rerun_script
        client_state.query_string = self.query_string
        client_state.page_script_hash = self.page_script_hash
        client_state.page_name = page_name
        client_state.fragment_id = fragment_id
        client_state.widget_states.widgets.extend(self._states.values())
        context = client_state.context_info
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-US"
        context.url = f"{self.base_url}/{page_name}"
        # a trigger (a click) is sent once; the frontend resets it after the message
        self._states = {
            key: state for key, state in self._states.items() if state.WhichOneof("value") != "trigger_value"
        }
        result = RunResult(query_string=self.query_string, fragment_id=fragment_id)
        start = time.perf_counter()
        try:
            await self._socket.send(message.SerializeToString())
            await asyncio.wait_for(self._receive(self._socket, result, start), self.timeout_s)
        except TimeoutError as error:
            raise SessionError(
                f"no script_finished within {self.timeout_s:.0f} s (errors so far: {result.errors})"
            ) from error
        except WebSocketException as error:
            raise SessionError(f"the websocket closed during a run: {error!r}") from error
        result.seconds = time.perf_counter() - start
        if fragment_id:  # the rest of the page stays as it was: only the fragment's widgets were redrawn
            kept = {key: widget for key, widget in self.widgets.items() if widget.fragment_id != fragment_id}
            self.widgets = {**kept, **result.widgets}
        else:
            self.widgets = result.widgets
        active = {widget.id for widget in self.widgets.values()}
        self._states = {key: state for key, state in self._states.items() if key in active}
        return result

    async def _receive(self, socket: ClientConnection, result: RunResult, start: float) -> None:
        while True:
            raw = await socket.recv()
            if isinstance(raw, str):
                raise SessionError(f"the server sent a text frame ({raw[:80]!r}); Streamlit sends binary protobufs")
            message = ForwardMsg()
            message.ParseFromString(raw)
            kind = message.WhichOneof("type")
            if kind == "delta":
                self._delta(message, result, start)
            elif kind == "page_info_changed":
                self.query_string = result.query_string = message.page_info_changed.query_string
            elif kind == "navigation":
                self.page_script_hash = message.navigation.page_script_hash
            elif kind == "new_session" and not self.page_script_hash:
                self.page_script_hash = message.new_session.page_script_hash
            elif kind == "page_not_found":
                result.errors.append(f"page_not_found: {message.page_not_found.page_name!r}")
            elif kind == "session_event" and message.session_event.HasField("script_compilation_exception"):
                error = message.session_event.script_compilation_exception
                result.errors.append(f"compile error: {error.type}: {error.message}")
            elif kind == "ref_hash":
                raise SessionError("the server sent a ref_hash although this client caches no messages")
            elif kind == "script_finished":
                result.status = ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)
                if not result.finished:
                    result.errors.append(f"script_finished with status {result.status}")
                return

    def _delta(self, message: ForwardMsg, result: RunResult, start: float) -> None:
        if message.delta.WhichOneof("type") != "new_element":
            return
        element = message.delta.new_element
        kind = element.WhichOneof("type")
        if kind is None:
            return
        proto = getattr(element, kind)
        if kind == "exception":
            warning = " (shown as a warning)" if proto.is_warning else ""
            result.errors.append(f"exception{warning}: {proto.type}: {proto.message}")
        elif kind == "alert" and proto.format == ALERT_ERROR:
            result.errors.append(f"st.error: {proto.body}")
        elif kind == "alert" and proto.format == ALERT_WARNING:
            result.warnings.append(proto.body)
        element_id = getattr(proto, "id", "")
        match = ELEMENT_ID.match(element_id) if element_id else None
        if match is None or match["key"] == "None":
            return
        key = match["key"]
        if kind == "plotly_chart":
            result.charts[key] = proto.SerializeToString(deterministic=True)
            result.chart_seconds[key] = time.perf_counter() - start
        elif kind in VALUE_FIELDS or hasattr(proto, "label"):
            result.widgets[key] = Widget(
                id=element_id,
                kind=kind,
                label=getattr(proto, "label", ""),
                proto=proto,
                fragment_id=message.delta.fragment_id,
            )
            if getattr(proto, "set_value", False):
                self._states.pop(element_id, None)
