"""Built-in ganzoo plugin ganzoo-mitigations: mode-collapse mitigations.

``spectral-norm``, ``minibatch-discrimination``, ``minibatch-stddev``, ``pacgan``, ``unrolled``,
``r1`` and ``mode-seeking``; see the plugin's README for options, papers and combination rules.
"""
