"""Where indexes built before the Whoosh adapter find their codec: Whoosh pickles each segment's codec by
its import path (``search.bm25codec.PackedCodec``), so this name stays for them. The code is in
:mod:`search.whoosh_adapter`."""

from .whoosh_adapter import PackedCodec, PackedLeafMatcher, PackedPostingsWriter  # noqa: F401
