"""Worker threads of the PAM stand-in.

Each worker is a threading.Thread whose Python name is PAM's (what py-spy
shows) and whose OS name (/proc/PID/task/TID/comm, what pamprofd's per-thread
CSV shows) is set to the same text with prctl(PR_SET_NAME): Python 3.11 does
not do that by itself. The kernel keeps 15 bytes of it.

The workers mostly sleep and do a little periodic work, like PAM's idle
scenarios: decode a fake MAVLink v2 frame, json round trips for the Redis
and MQTT workers.
"""

import collections
import ctypes
import functools
import hashlib
import json
import struct
import threading
import time

PR_SET_NAME = 15
TASK_COMM_LEN = 16  # including the terminating NUL

_libc = None


def set_os_thread_name(name):
    """Set the calling thread's kernel name (comm) to name, cut to 15 bytes.

    Returns True on success. Never raises: a missing libc or prctl only
    loses the name, not the worker.
    """
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        raw = name.encode("utf-8", "replace")[: TASK_COMM_LEN - 1]
        return _libc.prctl(PR_SET_NAME, ctypes.c_char_p(raw), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


class Worker(threading.Thread):
    """A daemon thread that names itself in the OS, then runs body(stop)."""

    def __init__(self, name, body, stop):
        super().__init__(name=name, daemon=True)
        self._body = body
        self._stop_event = stop

    def run(self):
        set_os_thread_name(self.name)
        self._body(self._stop_event)


# --- fake MAVLink -----------------------------------------------------------

MAVLINK_STX_V2 = 0xFD
# msgid -> (CRC_EXTRA, payload struct) for the few messages we fake
_MAVLINK_MSGS = {
    0: (50, struct.Struct("<IBBBBB")),  # HEARTBEAT
    30: (39, struct.Struct("<Iffffff")),  # ATTITUDE
    33: (104, struct.Struct("<IiiiihhhH")),  # GLOBAL_POSITION_INT
    70: (124, struct.Struct("<HHHHHHHHBB")),  # RC_CHANNELS_OVERRIDE
}


def _x25_crc(data, crc=0xFFFF):
    for byte in data:
        tmp = byte ^ (crc & 0xFF)
        tmp = (tmp ^ (tmp << 4)) & 0xFF
        crc = ((crc >> 8) ^ (tmp << 8) ^ (tmp << 3) ^ (tmp >> 4)) & 0xFFFF
    return crc


def build_mavlink_frame(seq, msgid, *fields):
    crc_extra, layout = _MAVLINK_MSGS[msgid]
    payload = layout.pack(*fields)
    header = struct.pack(
        "<BBBBBBBHB", MAVLINK_STX_V2, len(payload), 0, 0, seq & 0xFF, 1, 1,
        msgid & 0xFFFF, msgid >> 16)
    crc = _x25_crc(header[1:] + payload)
    crc = _x25_crc(bytes([crc_extra]), crc)
    return header + payload + struct.pack("<H", crc)


def parse_message(frame):
    """Decode a MAVLink v2 frame built above; raises ValueError if bad."""
    if len(frame) < 12 or frame[0] != MAVLINK_STX_V2:
        raise ValueError("not a MAVLink v2 frame")
    length = frame[1]
    msgid = frame[7] | (frame[8] << 8) | (frame[9] << 16)
    payload = frame[10:10 + length]
    (crc,) = struct.unpack_from("<H", frame, 10 + length)
    crc_extra, layout = _MAVLINK_MSGS[msgid]
    check = _x25_crc(bytes([crc_extra]), _x25_crc(frame[1:10 + length]))
    if check != crc:
        raise ValueError("bad CRC")
    return msgid, layout.unpack(payload)


def mavlink_worker(stop, period=0.02, burst=16, flight_log=None, log_rate=0):
    """50 Hz: decode a burst of telemetry (800 msg/s), as PAM's MAVLink worker.

    With flight_log (a list) each round's frames are also kept there, with
    padding so that log_rate bytes a second are kept, and never flushed.
    """
    seq = 0
    handled = 0
    log_start = time.monotonic()
    logged = 0
    while not stop.wait(period):
        frames = []
        t_ms = int(time.monotonic() * 1000) & 0xFFFFFFFF
        for i in range(burst):
            kind = i % 3
            if kind == 0:
                frame = build_mavlink_frame(seq, 0, 0, 2, 12, 0x51, 4, 3)
            elif kind == 1:
                frame = build_mavlink_frame(seq, 30, t_ms, 0.01, -0.02, 1.57,
                                            0.0, 0.0, 0.001)
            else:
                frame = build_mavlink_frame(seq, 33, t_ms, 473977420,
                                            85455940, 488000, 1000, 0, 0, 0,
                                            9000)
            seq += 1
            msgid, _fields = parse_message(frame)
            handled += 1
            frames.append(frame)
        if flight_log is not None:
            record = b"".join(frames)
            due = int(log_rate * (time.monotonic() - log_start)) - logged
            if due >= len(record):
                # bytes * n copies: real, touched memory (not lazily zeroed pages)
                flight_log.append(record * (due // len(record)))
                logged += len(flight_log[-1])


def redis_worker(stop, period=0.1):
    """10 Hz: a pub/sub round trip through JSON, as PAM's Redis worker."""
    count = 0
    while not stop.wait(period):
        count += 1
        message = {
            "channel": "petal/leafsdk/status",
            "seq": count,
            "ts": time.time(),
            "data": {"mode": "idle", "armed": False, "battery": 87.5,
                     "links": ["mavlink", "mqtt"]},
        }
        decoded = json.loads(json.dumps(message))
        if decoded["seq"] != count:
            raise RuntimeError("json round trip lost data")


def mqtt_worker(stop, period=0.5):
    """2 Hz: build and parse an MQTT-ish command envelope."""
    count = 0
    while not stop.wait(period):
        count += 1
        envelope = json.dumps({
            "topic": "org/device/command/web",
            "messageId": "m-%08d" % count,
            "command": "petal-leafsdk/heartbeat",
            "payload": {"t": time.time()},
        })
        json.loads(envelope)


class VehicleState:
    """What the link workers know about the vehicle; others read it."""

    def __init__(self):
        self.mode = "STABILIZE"
        self.armed = False

    def mode_changed(self, last_mode):
        return self.mode != last_mode


def arming_monitor(stop, vehicle):
    """Reacts to the vehicle's mode changing, by checking it over and over."""
    last_mode = vehicle.mode
    transitions = 0
    while not stop.is_set():
        if vehicle.mode_changed(last_mode):
            last_mode = vehicle.mode
            transitions += 1


def mqtt_outbox(stop, outbox, period=0.001):
    """Sends what other threads queued for MQTT: looks at the outbox every
    millisecond."""
    sent = 0
    while not stop.is_set():
        while outbox:
            outbox.popleft()
            sent += 1
        time.sleep(period)


def _waypoint(i):
    return {"seq": i, "frame": 3, "command": 16, "current": i == 0, "autocontinue": True,
            "params": [0.0, 2.0, 0.0, float("nan") if i % 50 == 49 else 0.0],
            "lat": 47.3977419 + i * 1e-5, "lon": 8.5455938 - i * 1e-5, "alt": 20.0 + (i % 7),
            "tags": ["survey", "leg-%d" % (i // 10)]}


def mission_planner(stop, waypoints=1500, period=0.1):
    """10 Hz: takes a private copy of the mission plan before it checks it."""
    plan = {"mission_id": "m-0001", "vehicle": "leaf-01",
            "items": [_waypoint(i) for i in range(waypoints)]}
    checked = 0
    while not stop.wait(period):
        working = json.loads(json.dumps(plan))
        checked += sum(1 for item in working["items"] if item["autocontinue"])


def idle_worker(stop, period=1.0):
    """An extra thread that wakes once a second and does nothing."""
    while not stop.wait(period):
        pass


def burn_worker(stop, duty, period=0.01):
    """Burn `duty` of one core with a `period`-second busy/sleep cycle.

    The busy part hashes a buffer with hashlib, which releases the GIL for
    large inputs, so several burners in one process really run in parallel
    and do not starve the other Python threads. The thread's own CPU clock
    (thread_time) is the feedback: over any stretch of whole periods the
    thread uses duty * wall time of CPU, whatever the scheduler did.
    """
    duty = min(max(float(duty), 0.0), 1.0)
    if duty <= 0.0:
        idle_worker(stop)
        return
    chunk = b"\x5a" * 16384
    wall0 = time.monotonic()
    cpu0 = time.thread_time()
    deadline = wall0
    while not stop.is_set():
        deadline += period
        now = time.monotonic()
        if now - deadline > 1.0:
            # far behind (machine suspended or starved): start afresh
            wall0, cpu0, deadline = now, time.thread_time(), now + period
        target = duty * (deadline - wall0)
        used = time.thread_time() - cpu0
        # never try to catch up by more than one period's worth
        if target - used > period:
            cpu0 = time.thread_time() - (target - period)
        h = hashlib.sha256()
        while time.thread_time() - cpu0 < target and time.monotonic() < deadline:
            h.update(chunk)
        delay = deadline - time.monotonic()
        if delay > 0:
            stop.wait(delay)


def start_standard_workers(stop, load=0.0, extra_threads=0, switches=None):
    """Start PAM's three workers, plus the optional load and idle threads and
    the threads of the pathology switches (main.Switches; None: all off)."""
    sw = switches
    flight_log = [] if sw and sw.leak_mb_per_s > 0 else None
    log_rate = sw.leak_mb_per_s * 1048576 if flight_log is not None else 0
    workers = [
        Worker("MAVLinkWorker-1",
               functools.partial(mavlink_worker, flight_log=flight_log, log_rate=log_rate), stop),
        Worker("RedisWorker-1", redis_worker, stop),
        Worker("MQTTWorker-1", mqtt_worker, stop),
    ]
    if load > 0.0:
        workers.append(
            Worker("LoadWorker-1", lambda s: burn_worker(s, load), stop))
    if sw and sw.busy_thread:
        vehicle = VehicleState()
        workers.append(Worker("ArmingMonitor-1", functools.partial(arming_monitor, vehicle=vehicle), stop))
    if sw and sw.polling_thread:
        outbox = collections.deque()
        workers.append(Worker("MQTTOutbox-1", functools.partial(mqtt_outbox, outbox=outbox), stop))
    if sw and sw.json_roundtrip:
        workers.append(Worker("MissionWorker-1", mission_planner, stop))
    for i in range(extra_threads):
        workers.append(Worker("IdleWorker-%d" % (i + 1), idle_worker, stop))
    for w in workers:
        w.start()
    return workers
