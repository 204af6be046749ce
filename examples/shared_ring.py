"""Read and write a memmapfs SharedRing (format version 1) from Python.

So a numpy worker can feed a Bun server: the JavaScript side creates the ring
(``SharedRing.create({ name: "jobs", capacity: 1024, maxMessage: 4096 })``),
Python opens it by name and pushes or pops bytes, and either side may die
without tearing a message. The format is documented in
``src/shm/ring_format.ts``; this module follows it to the letter.

Atomics: Python has no compare-and-swap, so this module calls libatomic's
``__atomic_*`` functions through ctypes (sequentially consistent, like
JavaScript's ``Atomics``). Sleeping: ``pop_wait``/``push_wait`` use the Linux
futex through ``libc.syscall`` (variadic, but on x86-64 and arm64 Linux the
integer arguments travel in registers exactly as fixed ones do); elsewhere
they poll with short sleeps.

Usage::

    from shared_ring import SharedRing
    ring = SharedRing.open("jobs")
    ring.push(b"hello")            # False when full
    message = ring.pop_wait(1.0)   # bytes, or None after 1 s
    ring.close()
"""

import ctypes
import os
import platform
import struct
import sys
import threading
import time
from multiprocessing import resource_tracker, shared_memory

RING_MAGIC = 0x47524D4D
RING_VERSION = 1
HEADER_SIZE = 256
SLOT_HEADER = 16
DEAD_LENGTH = 0xFFFFFFFF
HEAD, TAIL = 64, 128
DATA_EVENTS, CONSUMERS_SLEEPING, SPACE_EVENTS, PRODUCERS_SLEEPING = 192, 196, 200, 204
STALL_CHECK = 0.02
SEQ_CST = 5

_atomic = ctypes.CDLL("libatomic.so.1")
_libc = ctypes.CDLL(None, use_errno=True)
_u32, _u64, _ptr = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_void_p


def _bind(name, restype, *argtypes):
    function = getattr(_atomic, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


_load4 = _bind("__atomic_load_4", _u32, _ptr, ctypes.c_int)
_store4 = _bind("__atomic_store_4", None, _ptr, _u32, ctypes.c_int)
_add4 = _bind("__atomic_fetch_add_4", _u32, _ptr, _u32, ctypes.c_int)
_exchange4 = _bind("__atomic_exchange_4", _u32, _ptr, _u32, ctypes.c_int)
_cas4 = _bind("__atomic_compare_exchange_4", ctypes.c_bool, _ptr, _ptr, _u32, ctypes.c_int, ctypes.c_int)
_load8 = _bind("__atomic_load_8", _u64, _ptr, ctypes.c_int)
_store8 = _bind("__atomic_store_8", None, _ptr, _u64, ctypes.c_int)
_cas8 = _bind("__atomic_compare_exchange_8", ctypes.c_bool, _ptr, _ptr, _u64, ctypes.c_int, ctypes.c_int)

# SYS_futex per architecture (asm/unistd_64.h, asm-generic/unistd.h); None: poll.
_SYS_FUTEX = {"x86_64": 202, "aarch64": 98, "arm64": 98}.get(platform.machine()) if sys.platform == "linux" else None
FUTEX_WAIT, FUTEX_WAKE = 0, 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _futex(address, op, value, timeout=None):
    if _SYS_FUTEX is None:
        return -1
    spec = None
    if timeout is not None:
        spec = _Timespec(int(timeout), int((timeout - int(timeout)) * 1e9))
    pointer = ctypes.cast(ctypes.byref(spec), ctypes.c_void_p) if spec is not None else ctypes.c_void_p(0)
    return _libc.syscall(ctypes.c_long(_SYS_FUTEX), ctypes.c_void_p(address), ctypes.c_long(op),
                         ctypes.c_long(value), pointer, ctypes.c_void_p(0), ctypes.c_long(0))


def _start_time(tid):
    try:
        with open(f"/proc/{tid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return None
    fields = text[text.rindex(b")") + 2:].split()
    return int(fields[22 - 3]) & 0xFFFFFFFF


def _alive(packed):
    tid, start = packed & 0xFFFFFFFF, packed >> 32
    try:
        os.kill(tid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if start == 0:
        return True
    now = _start_time(tid)
    return now is None or now == start


def _i32(value):
    return (value + 2**31) % 2**32 - 2**31


class SharedRing:
    """A memmapfs SharedRing opened by its shared-memory name."""

    def __init__(self, name):
        self._shm = shared_memory.SharedMemory(name=name)
        # Python 3.11's resource tracker would unlink the ring when this process exits.
        resource_tracker.unregister(self._shm._name, "shared_memory")
        self._anchor = (ctypes.c_char * self._shm.size).from_buffer(self._shm.buf)
        self._base = ctypes.addressof(self._anchor)
        header = bytes(self._shm.buf[:24])
        magic, version, capacity, max_message, slot_size, header_size = struct.unpack("<6I", header)
        if magic != RING_MAGIC or version != RING_VERSION or header_size != HEADER_SIZE:
            self.close()
            raise ValueError(f"{name!r} holds no SharedRing of version {RING_VERSION}")
        self.capacity, self.max_message, self._slot_size = capacity, max_message, slot_size
        tid = threading.get_native_id()
        self._me = (_start_time(tid) or 0) << 32 | tid
        self._stall = (None, 0.0)

    @classmethod
    def open(cls, name):
        return cls(name)

    def _u32(self, offset):
        return _load4(self._base + offset, SEQ_CST)

    def _slot(self, position):
        return HEADER_SIZE + (position & (self.capacity - 1)) * self._slot_size

    def _claim(self, owner, position):
        expected = _u64(0)
        if _cas8(owner, ctypes.byref(expected), self._me, SEQ_CST, SEQ_CST):
            return True
        return self._steal(owner, position, expected.value)

    def _steal(self, owner, position, holder):
        """Takes the owner word from `holder` when it stalled STALL_CHECK and is dead."""
        if holder == 0:
            return False
        now = time.monotonic()
        if self._stall[0] != position:
            self._stall = (position, now)
            return False
        if now - self._stall[1] < STALL_CHECK or _alive(holder):
            return False
        self._stall = (position, now)
        expected = _u64(holder)
        return _cas8(owner, ctypes.byref(expected), self._me, SEQ_CST, SEQ_CST)

    def _cas_u32(self, offset, old, new):
        expected = _u32(old)
        return _cas4(self._base + offset, ctypes.byref(expected), new & 0xFFFFFFFF, SEQ_CST, SEQ_CST)

    def _signal(self, sleepers, events):
        # A sleeper raised the flag before its last look at the ring: clear it, bump, wake all.
        if self._u32(sleepers) != 0 and _exchange4(self._base + sleepers, 0, SEQ_CST) != 0:
            _add4(self._base + events, 1, SEQ_CST)
            _futex(self._base + events, FUTEX_WAKE, 0x7FFFFFFF)

    def push(self, data):
        """Adds `data` (bytes); False when the ring is full."""
        data = bytes(data)
        if len(data) > self.max_message:
            raise ValueError(f"message of {len(data)} bytes is longer than maxMessage ({self.max_message})")
        while True:
            position = self._u32(TAIL)
            slot = self._slot(position)
            owner = self._base + slot + 8
            lead = _i32(self._u32(slot) - position)
            if lead > 0:
                continue
            if lead < 0:
                if not self._reclaim_from_dead_consumer(slot, owner, position):
                    return False
                continue
            if not self._claim(owner, position):
                continue
            if not self._cas_u32(TAIL, position, position + 1):
                _store8(owner, 0, SEQ_CST)
                continue
            ctypes.memmove(self._base + slot + SLOT_HEADER, data, len(data))
            _store4(self._base + slot + 4, len(data), SEQ_CST)
            _store4(self._base + slot, (position + 1) & 0xFFFFFFFF, SEQ_CST)
            _store8(owner, 0, SEQ_CST)
            self._signal(CONSUMERS_SLEEPING, DATA_EVENTS)
            return True

    def _reclaim_from_dead_consumer(self, slot, owner, position):
        previous = (position - self.capacity) & 0xFFFFFFFF
        if self._u32(slot) != (previous + 1) & 0xFFFFFFFF or _i32(self._u32(HEAD) - previous) <= 0:
            return False
        if not self._steal(owner, position, _load8(owner, SEQ_CST)):
            return False
        _store4(self._base + slot, position, SEQ_CST)
        _store8(owner, 0, SEQ_CST)
        self._signal(PRODUCERS_SLEEPING, SPACE_EVENTS)
        return True

    def pop(self):
        """Removes the oldest message and returns it as bytes; None when empty."""
        while True:
            position = self._u32(HEAD)
            slot = self._slot(position)
            owner = self._base + slot + 8
            lead = _i32(self._u32(slot) - (position + 1))
            if lead > 0:
                continue
            if lead < 0:
                if self._u32(TAIL) == position:
                    return None
                if not self._steal(owner, position, _load8(owner, SEQ_CST)):
                    return None
                if self._u32(slot) == position:  # a producer died after reserving: skip its slot
                    _store4(self._base + slot + 4, DEAD_LENGTH, SEQ_CST)
                    _store4(self._base + slot, (position + 1) & 0xFFFFFFFF, SEQ_CST)
                _store8(owner, 0, SEQ_CST)
                continue
            if not self._claim(owner, position):
                continue
            if not self._cas_u32(HEAD, position, position + 1):
                _store8(owner, 0, SEQ_CST)
                continue
            length = self._u32(slot + 4)
            message = None if length == DEAD_LENGTH else ctypes.string_at(self._base + slot + SLOT_HEADER, length)
            _store4(self._base + slot, (position + self.capacity) & 0xFFFFFFFF, SEQ_CST)
            _store8(owner, 0, SEQ_CST)
            self._signal(PRODUCERS_SLEEPING, SPACE_EVENTS)
            if message is not None:
                return message

    def _blocking(self, attempt, events, sleepers, timeout):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            result = attempt()
            if result is not None:
                return result
            _store4(self._base + sleepers, 1, SEQ_CST)
            event = self._u32(events)
            result = attempt()
            if result is not None:
                return result
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                return None
            if _SYS_FUTEX is None:
                time.sleep(min(left, 0.001))  # no futex here: poll
            else:
                _futex(self._base + events, FUTEX_WAIT, _i32(event), left)

    def pop_wait(self, timeout=None):
        """pop(), sleeping up to `timeout` seconds (None: forever) while empty."""
        return self._blocking(self.pop, DATA_EVENTS, CONSUMERS_SLEEPING, timeout)

    def push_wait(self, data, timeout=None):
        """push(), sleeping up to `timeout` seconds while full; False on timeout."""
        done = self._blocking(lambda: True if self.push(data) else None, SPACE_EVENTS, PRODUCERS_SLEEPING, timeout)
        return bool(done)

    def close(self):
        self._anchor = None
        self._shm.close()

