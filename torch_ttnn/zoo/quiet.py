"""Quiet the libraries the zoo drives, so reports are readable (shared by the zoo, bench and CLI)."""


def quiet_libraries():
    """Silence the HF/torch chatter (kernel fallbacks, deprecations) that would bury the report."""
    import logging
    import warnings
    warnings.filterwarnings("ignore")
    for name in ("transformers", "torch._dynamo", "torch._inductor"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import transformers
        transformers.logging.set_verbosity_error()
    except ImportError:
        pass
