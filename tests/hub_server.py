"""A small Hugging Face Hub on 127.0.0.1 for tests: enough of the Hub's HTTP API for the real ``huggingface_hub``
client to create a model repo, upload to it and commit, and for ``from_pretrained`` to download from it.

No pip-installable Hub server accepts uploads, so the round-trip tests start this one (standard library only).
What it answers, as huggingface_hub 2.x calls it (read from its source: ``hf_api.py``, ``_commit_api.py``,
``lfs.py``, ``file_download.py``):

================================================  =============================================================
``GET  /api/agent-harnesses``                      the client's agent registry (empty here)
``POST /api/repos/create``                         create_repo; 409 with the repo's url when it exists
``POST /api/validate-yaml``                        the README metadata check that precedes a commit
``GET  /api/models/{repo}[/revision/{rev}]``       model_info / repo_info / resolve_revision: sha and siblings
``POST /api/models/{repo}/preupload/{rev}``        upload mode per file ("lfs" or "regular") and the remote oid
``POST /{repo}.git/info/lfs/objects/batch``        LFS batch: a basic upload action (and verify) per new object
``PUT  {storage}/upload/{oid}``                    the LFS upload itself, on the storage origin (S3's role)
``POST /{repo}.git/info/lfs/objects/verify``       the upload arrived whole
``POST /api/models/{repo}/commit/{rev}``           the NDJSON commit: header, file (base64), lfsFile, deleted*
``HEAD|GET /{repo}/resolve/{rev}/{path}``          X-Repo-Commit and ETag; an LFS file answers 302 to the storage
                                                   origin with X-Linked-Etag (sha256) and X-Linked-Size
``GET  {storage}/objects/{oid}``                   LFS content, with Range
================================================  =============================================================

Storage is a second origin (its own port), as the Hub sends LFS downloads to a CDN: on HEAD the client does not
follow that redirect, reads the file's metadata from the 302 itself, and downloads without the Hub's auth header.

Atomic commits: an upload lands in a content-addressed object store that no revision sees until a commit names
it, and an upload whose body is cut short or does not hash to its oid is discarded. A commit is read and checked
whole (every LFS object present with its size, the parent as given) before its branch moves, under a lock, so a
revision appears only once its commit request completes.

A request it does not know is answered 404 and recorded in ``unhandled``; tests require that list to stay empty.
Faults for tests: ``fail_uploads`` answers the next LFS uploads with an HTTP error; ``stall_next_upload`` reads half
of the next one and then waits until ``release_stalled_upload`` drops the connection (a client killed mid-upload).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

# Files stored with LFS whatever their size: the patterns of a new repo's .gitattributes (the Hub's own list is
# longer), plus any file over LFS_THRESHOLD or with binary content, as the Hub decides in preupload.
LFS_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.onnx", "*.msgpack", "*.zip")
LFS_THRESHOLD = 10 * 1024 * 1024
INITIAL_GITATTRIBUTES = "".join(f"{pattern} filter=lfs diff=lfs merge=lfs -text\n" for pattern in LFS_PATTERNS)


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's ETag and blobId."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def lfs_pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


@dataclass(frozen=True)
class StoredFile:
    size: int
    git_oid: str  # of the content for a regular file, of the pointer file for an LFS file
    content: bytes | None = None  # regular files
    lfs_oid: str | None = None  # LFS files: sha256 of the content, kept in the object store

    @classmethod
    def regular(cls, content: bytes) -> StoredFile:
        return cls(size=len(content), git_oid=git_blob_oid(content), content=content)

    @classmethod
    def lfs(cls, oid: str, size: int) -> StoredFile:
        return cls(size=size, git_oid=git_blob_oid(lfs_pointer(oid, size)), lfs_oid=oid)


@dataclass(frozen=True)
class Commit:
    oid: str
    parent: str | None
    summary: str
    files: dict[str, StoredFile]
    date: str


@dataclass
class Repo:
    repo_id: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit oid

    def find(self, revision: str) -> Commit | None:
        oid = self.branches.get(revision, revision)
        return self.commits.get(oid)


class CommitRejected(Exception):
    """A commit that cannot be applied; nothing of it is kept."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class LocalHub:
    """The Hub's state (repos, the LFS object store) and its two HTTP origins. Use as a context manager."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.objects: dict[str, bytes] = {}  # sha256 -> LFS content
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every request answered
        self.unhandled: list[str] = []
        self._upload_failures: list[int] = []
        self._stall_next = False
        self.upload_stalled = threading.Event()
        self._release = threading.Event()
        self.upload_dropped = threading.Event()
        self._hub = _Server(self, _HubHandler)
        self._storage = _Server(self, _StorageHandler)
        self.endpoint = f"http://127.0.0.1:{self._hub.server_port}"
        self.storage_url = f"http://127.0.0.1:{self._storage.server_port}"

    def __enter__(self) -> LocalHub:
        for server in (self._hub, self._storage):
            threading.Thread(target=server.serve_forever, daemon=True, name="local-hub").start()
        return self

    def __exit__(self, *exc) -> None:
        self._release.set()
        for server in (self._hub, self._storage):
            server.shutdown()
            server.server_close()

    # ----------------------------------------------------------------------------------------- for tests

    def head(self, repo_id: str, branch: str = "main") -> Commit:
        """The commit ``branch`` of ``repo_id`` points to."""
        with self.lock:
            repo = self.repos[repo_id]
            return repo.commits[repo.branches[branch]]

    def fail_uploads(self, count: int = 1, status: int = 403) -> None:
        """Answer the next ``count`` LFS uploads with ``status`` (not one the client retries), storing nothing."""
        self._upload_failures += [status] * count

    def stall_next_upload(self) -> None:
        """Read half of the next LFS upload, set ``upload_stalled`` and wait for ``release_stalled_upload`` (once
        per hub: the release is not re-armed)."""
        self._stall_next = True

    def release_stalled_upload(self) -> None:
        """Drop the stalled upload's connection unanswered, as when its client died; ``upload_dropped`` follows."""
        self._release.set()

    def next_upload_fault(self) -> int | str | None:
        """What the next LFS upload meets: an HTTP status to answer, "stall", or None (a normal upload)."""
        with self.lock:
            if self._upload_failures:
                return self._upload_failures.pop(0)
            if self._stall_next:
                self._stall_next = False
                return "stall"
        return None

    def stall(self) -> None:
        """Called by a stalled upload: say so, wait for the release, then count the connection as dropped."""
        self.upload_stalled.set()
        self._release.wait(timeout=60)
        self.upload_dropped.set()

    # ------------------------------------------------------------------------------------------- the API

    def create_repo(self, repo_id: str) -> bool:
        """Create ``repo_id`` with an initial commit holding ``.gitattributes``; False if it exists."""
        with self.lock:
            if repo_id in self.repos:
                return False
            repo = self.repos[repo_id] = Repo(repo_id)
            files = {".gitattributes": StoredFile.regular(INITIAL_GITATTRIBUTES.encode())}
            self._add_commit(repo, "main", None, "initial commit", files)
            return True

    def upload_mode(self, commit: Commit, path: str, size: int, sample: bytes) -> str:
        """The upload mode: "lfs" for a path .gitattributes sends to LFS, a large file or binary content, else
        "regular"."""
        attributes = commit.files.get(".gitattributes")
        patterns = [
            line.split()[0]
            for line in (attributes.content.decode() if attributes else "").splitlines()
            if "filter=lfs" in line
        ]
        name = path.rsplit("/", 1)[-1]
        matched = any(fnmatch.fnmatch(path if "/" in pattern else name, pattern) for pattern in patterns)
        return "lfs" if matched or size > LFS_THRESHOLD or b"\0" in sample else "regular"

    def apply_commit(self, repo_id: str, branch: str, lines: list[dict]) -> Commit:
        """Check the whole NDJSON commit, then move ``branch`` to it; raises CommitRejected, changing nothing."""
        if not lines or lines[0].get("key") != "header":
            raise CommitRejected(400, "a commit starts with its header line")
        header = lines[0]["value"]
        with self.lock:
            repo = self.repos.get(repo_id)
            if repo is None:
                raise CommitRejected(404, f"repository {repo_id} not found")
            if branch not in repo.branches:
                raise CommitRejected(404, f"no branch {branch}")
            parent = repo.commits[repo.branches[branch]]
            expected_parent = header.get("parentCommit")
            if expected_parent and not parent.oid.startswith(expected_parent):
                raise CommitRejected(412, f"{branch} is at {parent.oid}, not {expected_parent}")
            files = dict(parent.files)
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value", {})
                path = value.get("path", "")
                if key == "file":
                    files[path] = StoredFile.regular(base64.b64decode(value["content"]))
                elif key == "lfsFile":
                    stored = self.objects.get(value["oid"])
                    if stored is None or len(stored) != value.get("size", len(stored)):
                        raise CommitRejected(422, f"{path}: LFS object {value['oid']} was never uploaded whole")
                    files[path] = StoredFile.lfs(value["oid"], len(stored))
                elif key == "deletedFile":
                    if files.pop(path, None) is None:
                        raise CommitRejected(404, f"A file with this name doesn't exist: {path}")
                elif key == "deletedFolder":
                    prefix = path.rstrip("/") + "/"
                    files = {name: item for name, item in files.items() if not name.startswith(prefix)}
                else:
                    raise CommitRejected(400, f"unknown commit operation {key!r}")
            return self._add_commit(repo, branch, parent.oid, header.get("summary", ""), files)

    def _add_commit(self, repo: Repo, branch: str, parent: str | None, summary: str, files: dict) -> Commit:
        tree = "".join(f"{path}\0{item.git_oid}\n" for path, item in sorted(files.items()))
        oid = hashlib.sha1(f"{parent}\n{summary}\n{len(repo.commits)}\n{tree}".encode()).hexdigest()
        date = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        repo.commits[oid] = Commit(oid, parent, summary, files, date)
        repo.branches[branch] = oid
        return repo.commits[oid]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: LocalHub, handler):
        super().__init__(("127.0.0.1", 0), handler)
        self.hub = hub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    routes: tuple = ()

    @property
    def hub(self) -> LocalHub:
        return self.server.hub

    def log_message(self, format, *args) -> None:
        pass  # requests are kept in hub.requests instead of printed

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        for method, pattern, name in self.routes:
            match = re.fullmatch(pattern, url.path)
            if method == self.command and match:
                groups = {key: unquote(value) for key, value in match.groupdict().items()}
                getattr(self, name)(**groups)
                return
        self.hub.unhandled.append(f"{self.command} {self.path}")
        self.send_json(404, {"error": f"the local test Hub does not serve {self.command} {url.path}"})

    do_GET = do_HEAD = do_POST = do_PUT = _dispatch  # http.server's names for its methods

    def body_chunks(self):
        """The request body piece by piece (Content-Length or chunked); stops early if the connection closes."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length", 0))
        while remaining > 0:
            piece = self.rfile.read(min(remaining, 64 * 1024))
            if not piece:
                return
            remaining -= len(piece)
            yield piece

    def read_json(self):
        return json.loads(b"".join(self.body_chunks()) or b"{}")

    def send_json(self, status: int, payload, headers: dict | None = None) -> None:
        error = payload.get("error") if isinstance(payload, dict) else None
        self.send_bytes(status, json.dumps(payload).encode(), "application/json", {
            **({"X-Error-Message": error} if error else {}), **(headers or {})
        })  # fmt: skip

    def send_bytes(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.hub.requests.append((self.command, self.path, status))


REPO = r"(?P<repo_id>[\w.-]+/[\w.-]+)"


class _HubHandler(_Handler):
    routes = (
        ("GET", r"/api/agent-harnesses", "agent_harnesses"),
        ("POST", r"/api/repos/create", "create_repo"),
        ("POST", r"/api/validate-yaml", "validate_yaml"),
        ("GET", rf"/api/models/{REPO}", "model_info"),
        ("GET", rf"/api/models/{REPO}/revision/(?P<revision>[^/]+)", "model_info"),
        ("POST", rf"/api/models/{REPO}/preupload/(?P<revision>[^/]+)", "preupload"),
        ("POST", rf"/api/models/{REPO}/commit/(?P<revision>[^/]+)", "commit"),
        ("POST", rf"/{REPO}\.git/info/lfs/objects/batch", "lfs_batch"),
        ("POST", rf"/{REPO}\.git/info/lfs/objects/verify", "lfs_verify"),
        ("HEAD", rf"/{REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)", "resolve"),
        ("GET", rf"/{REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)", "resolve"),
    )

    def _not_found(self, what: str, code: str, commit: str | None = None) -> None:
        headers = {"X-Error-Code": code, **({"X-Repo-Commit": commit} if commit else {})}
        self.send_json(404, {"error": f"{what} not found"}, headers)

    def _commit(self, repo_id: str, revision: str) -> Commit | None:
        """The commit a revision names, or None after answering 404 (RepoNotFound / RevisionNotFound)."""
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._not_found(f"repository {repo_id}", "RepoNotFound")
            return None
        commit = repo.find(revision)
        if commit is None:
            self._not_found(f"revision {revision}", "RevisionNotFound")
        return commit

    def agent_harnesses(self) -> None:
        """The registry of AI-agent environments the client reports in its user agent: none known here."""
        self.send_json(200, {"standardEnvVars": [], "harnesses": {}})

    def create_repo(self) -> None:
        payload = self.read_json()
        repo_id = "/".join(part for part in (payload.get("organization"), payload["name"]) if part)
        url = f"{self.hub.endpoint}/{repo_id}"
        if self.hub.create_repo(repo_id):
            self.send_json(200, {"url": url, "name": repo_id, "id": repo_id})
        else:
            self.send_json(409, {"error": "You already created this model repo", "url": url})

    def validate_yaml(self) -> None:
        content = self.read_json().get("content", "")
        front = re.match(r"---\n(.*?)\n---\n", content, flags=re.DOTALL)
        try:
            metadata = yaml.safe_load(front.group(1)) if front else {}
        except yaml.YAMLError as error:
            self.send_json(400, {"errors": [{"message": f"invalid YAML: {error}"}]})
            return
        if not isinstance(metadata, (dict, type(None))):
            self.send_json(400, {"errors": [{"message": "the metadata must be a mapping"}]})
            return
        self.send_json(200, {"errors": [], "warnings": []})

    def model_info(self, repo_id: str, revision: str = "main") -> None:
        commit = self._commit(repo_id, revision)
        if commit is None:
            return
        siblings = []
        for path, item in sorted(commit.files.items()):
            sibling = {"rfilename": path, "size": item.size, "blobId": item.git_oid}
            if item.lfs_oid:
                pointer_size = len(lfs_pointer(item.lfs_oid, item.size))
                sibling["lfs"] = {"size": item.size, "sha256": item.lfs_oid, "pointerSize": pointer_size}
            siblings.append(sibling)
        info = {"id": repo_id, "sha": commit.oid, "private": False, "lastModified": commit.date, "siblings": siblings}
        self.send_json(200, info)

    def preupload(self, repo_id: str, revision: str) -> None:
        files = self.read_json()["files"]
        commit = self._commit(repo_id, revision)
        if commit is None:
            return
        answers = []
        for item in files:
            path, sample = item["path"], base64.b64decode(item["sample"])
            mode = self.hub.upload_mode(commit, path, item["size"], sample)
            remote = commit.files.get(path)
            oid = None if remote is None else (remote.lfs_oid if mode == "lfs" else remote.git_oid)
            answers.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        self.send_json(200, {"files": answers})

    def lfs_batch(self, repo_id: str) -> None:
        request = self.read_json()
        if repo_id not in self.hub.repos:
            self._not_found(f"repository {repo_id}", "RepoNotFound")
            return
        objects = []
        for item in request["objects"]:
            oid, size = item["oid"], item["size"]
            answer = {"oid": oid, "size": size}
            if oid not in self.hub.objects:  # no "actions": the object is stored already
                answer["actions"] = {
                    "upload": {"href": f"{self.hub.storage_url}/upload/{oid}?size={size}", "header": {}},
                    "verify": {"href": f"{self.hub.endpoint}/{repo_id}.git/info/lfs/objects/verify", "header": {}},
                }
            objects.append(answer)
        self.send_json(200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"})

    def lfs_verify(self, repo_id: str) -> None:
        request = self.read_json()
        stored = self.hub.objects.get(request["oid"])
        if stored is None or len(stored) != request["size"]:
            self.send_json(404, {"error": f"object {request['oid']} not stored"})
        else:
            self.send_json(200, {})

    def commit(self, repo_id: str, revision: str) -> None:
        chunks = list(self.body_chunks())
        body = b"".join(chunks)
        if len(body) != int(self.headers.get("Content-Length", len(body))):
            self.close_connection = True  # cut short: the commit never arrived, so nothing happens
            return
        try:
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            commit = self.hub.apply_commit(repo_id, revision, lines)
        except CommitRejected as error:
            self.send_json(error.status, {"error": str(error)})
            return
        url = f"{self.hub.endpoint}/{repo_id}/commit/{commit.oid}"
        self.send_json(200, {"commitUrl": url, "commitOid": commit.oid, "pullRequestUrl": None, "success": True})

    def resolve(self, repo_id: str, revision: str, path: str) -> None:
        commit = self._commit(repo_id, revision)
        if commit is None:
            return
        item = commit.files.get(path)
        if item is None:
            self._not_found(f"{path} at {commit.oid}", "EntryNotFound", commit=commit.oid)
            return
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{item.git_oid}"'}
        if item.lfs_oid is None:
            self.send_bytes(200, item.content, "application/octet-stream", headers)
            return
        headers |= {
            "Location": f"{self.hub.storage_url}/objects/{item.lfs_oid}",
            "X-Linked-Etag": f'"{item.lfs_oid}"',
            "X-Linked-Size": str(item.size),
        }
        self.send_bytes(302, b"", "text/plain", headers)


class _StorageHandler(_Handler):
    routes = (
        ("PUT", r"/upload/(?P<oid>[0-9a-f]{64})", "upload"),
        ("GET", r"/objects/(?P<oid>[0-9a-f]{64})", "download"),
    )

    def upload(self, oid: str) -> None:
        expected_size = int(self.query.get("size", ["-1"])[0])
        fault = self.hub.next_upload_fault()
        if isinstance(fault, int):
            list(self.body_chunks())
            self.send_json(fault, {"error": "upload refused (injected failure)"})
            return
        received = bytearray()
        for piece in self.body_chunks():
            received += piece
            if fault == "stall" and len(received) >= expected_size // 2:
                self.hub.stall()
                self.close_connection = True  # the connection is gone mid-body: keep nothing, answer nothing
                return
        content = bytes(received)
        if len(content) != expected_size or hashlib.sha256(content).hexdigest() != oid:
            self.send_json(400, {"error": f"upload of {oid} is incomplete or does not match its sha256"})
            return
        with self.hub.lock:
            self.hub.objects[oid] = content
        self.send_bytes(200, b"", "text/plain")

    def download(self, oid: str) -> None:
        content = self.hub.objects.get(oid)
        if content is None:
            self.send_json(404, {"error": "no such object"})
            return
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match is None:
            self.send_bytes(200, content, "application/octet-stream")
            return
        start = int(match.group(1))
        end = int(match.group(2)) if match.group(2) else len(content) - 1
        headers = {"Content-Range": f"bytes {start}-{end}/{len(content)}"}
        self.send_bytes(206, content[start : end + 1], "application/octet-stream", headers)


def client_settings(hub: LocalHub, home) -> dict:
    """The huggingface_hub constants that point this process's client at ``hub``: online (the suite runs offline),
    Xet off (the server speaks LFS), an empty cache and no token file under ``home`` (nothing of the user's)."""
    return {
        "ENDPOINT": hub.endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_XET": True,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(home / "token"),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
    }


def point_client_at(hub: LocalHub, home, monkeypatch) -> None:
    """Make huggingface_hub, and transformers through it, talk to ``hub`` in this process.

    huggingface_hub reads its environment once, at import (long done by the time a fixture runs), so the
    constants it reads at call time are patched instead, and transformers' shared ``HfApi`` (which keeps the
    endpoint it was built with) is dropped. ``monkeypatch`` undoes all of it."""
    import transformers.utils.hub
    from huggingface_hub import constants

    for name, value in client_settings(hub, home).items():
        monkeypatch.setattr(constants, name, value)
    monkeypatch.setattr(transformers.utils.hub, "_hf_api", None)
    monkeypatch.delenv("HF_TOKEN", raising=False)


def child_environment(hub: LocalHub, home, base: dict) -> dict:
    """Environment variables that point a child process's client at ``hub`` (read at its import)."""
    env = {key: value for key, value in base.items() if key not in ("HF_TOKEN", "HF_HUB_CACHE", "TRANSFORMERS_CACHE")}
    return env | {
        "HF_ENDPOINT": hub.endpoint,
        "HF_HOME": str(home),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
