"""Model definitions on tvm.relax.frontend.nn, one per architecture family."""
