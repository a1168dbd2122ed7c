"""An event file that is never left with half a record.

tensorboardX builds every Event and Summary here (its protos and summary functions); only
the file I/O is ours. Why not its ``SummaryWriter``: its writer thread dies on the first
write error (a full disk) with a traceback of its own, after which ``add_*`` blocks forever
on its full queue; and its buffered writes can leave a partial record that TensorBoard
then reads as the end of the file. Here records wait in memory until ``flush()`` (the
trainer's log time), go out in one ``os.write`` loop, and a failed write is cut back to the
last whole record before the error is raised, so whatever is appended later (the run's
end status) is read by every reader.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from pathlib import Path

from tensorboardX.proto.event_pb2 import Event
from tensorboardX.record_writer import masked_crc32c


def frame(payload: bytes) -> bytes:
    """A TFRecord: length, its masked CRC32C, the payload, its masked CRC32C."""
    header = struct.pack("<Q", len(payload))
    return (header + struct.pack("<I", masked_crc32c(header)) + payload
            + struct.pack("<I", masked_crc32c(payload)))


class EventFile:
    def __init__(self, folder: Path):
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}"
        # A run resumed within the second its last session started (a quick restart)
        # would take the same name: the later file gets a suffix that sorts after it,
        # as readers order a run's files by name.
        for n in range(100):
            self.path = Path(folder) / (name + (f".{n}" if n else ""))
            try:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                break
            except FileExistsError:
                if n == 99:
                    raise
        self._size = 0           # bytes of whole records on disk
        self._pending: list[bytes] = []
        self.add(Event(wall_time=time.time(), file_version="brain.Event:2"))
        self.flush()

    def add(self, event: Event) -> None:
        self._pending.append(frame(event.SerializeToString()))

    def add_summary(self, summary, step: int, wall_time: float | None = None) -> None:
        self.add(Event(summary=summary, step=step,
                       wall_time=time.time() if wall_time is None else wall_time))

    def flush(self) -> None:
        """Write what is pending and fsync. On failure the file is cut back to its last
        whole record, the pending records are dropped, and the OSError names the file."""
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        try:
            view, at = memoryview(data), 0
            while at < len(data):
                at += os.pwrite(self._fd, view[at:], self._size + at)
            os.fsync(self._fd)
        except BaseException as e:
            # Any exception, a second Ctrl+C's KeyboardInterrupt too: left on disk past
            # _size, these bytes were overwritten in part by the next flush (it writes at
            # _size), and a double Ctrl+C left a torn record for every reader.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass
            if isinstance(e, OSError):
                raise OSError(e.errno, e.strerror, str(self.path)) from None
            raise
        self._size += len(data)

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            self.flush()
        finally:
            os.close(self._fd)
            self._fd = -1
