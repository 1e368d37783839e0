"""One running app per user and data folder: a second launch raises the first window.

A lock file in the data folder decides who is first (QLockFile notices a stale lock
left by a crash); the first instance listens on a QLocalServer, and a later launch
connects, says "activate", and exits.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

MESSAGE = b"activate\n"


def server_name(data_dir: Path) -> str:
    """Per user and per data folder (two portable installs may run side by side)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    digest = hashlib.sha1(f"{user}:{data_dir.resolve()}".encode()).hexdigest()[:16]
    return f"tutormax-desktop-{digest}"


class SingleInstance(QObject):
    sig_activate = Signal()
    """Another launch asked this instance to show its window."""

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = QLockFile(str(data_dir / "instance.lock"))
        self._lock.setStaleLockTime(0)  # stale = its process is gone, however recent
        self._server: QLocalServer | None = None
        self._clients: list[QLocalSocket] = []

    def acquire(self) -> bool:
        """True: we are the first instance (now listening). False: another one runs and
        was asked to raise its window."""
        if self._lock.tryLock(100):
            QLocalServer.removeServer(self.name)  # a socket left by a crash
            server = QLocalServer(self)
            server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
            if not server.listen(self.name):
                log.warning(
                    "single instance: cannot listen on %s: %s", self.name, server.errorString()
                )
            server.newConnection.connect(self._on_connection)
            self._server = server
            return True
        self.notify_running()
        return False

    def notify_running(self, timeout_ms: int = 2000) -> bool:
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(timeout_ms):
            log.warning(
                "another instance holds the lock but does not answer: %s", sock.errorString()
            )
            return False
        sock.write(MESSAGE)
        ok = sock.waitForBytesWritten(timeout_ms)
        sock.disconnectFromServer()
        return ok

    def _on_connection(self) -> None:
        assert self._server is not None
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            self._clients.append(sock)
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._drop(s))
            if sock.bytesAvailable():
                self._read(sock)

    def _read(self, sock: QLocalSocket) -> None:
        data = bytes(sock.readAll().data())
        if MESSAGE.strip() in data:
            self.sig_activate.emit()

    def _drop(self, sock: QLocalSocket) -> None:
        if sock in self._clients:
            self._clients.remove(sock)
        sock.deleteLater()

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for sock in self._clients:
            sock.abort()
        self._clients.clear()
        if self._lock.isLocked():
            self._lock.unlock()
