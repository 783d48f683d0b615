"""Start llama-cpp-python's OpenAI-compatible server with weight repacking off.

``python tests/serve_llama.py --model FILE --port N ...`` takes the server's own
options. llama.cpp's repacked (AMX) CPU kernels crash on some CPUs, and the
server has no switch for them, so the model's default parameters are patched
here before it loads, as thinkcli's own engine does on such machines.
"""

from __future__ import annotations

import sys

import llama_cpp.llama_cpp as raw

_defaults = raw.llama_model_default_params


def _no_repack():
    params = _defaults()
    params.use_extra_bufts = False
    return params


raw.llama_model_default_params = _no_repack

if __name__ == "__main__":
    from llama_cpp.server.__main__ import main

    sys.exit(main())
