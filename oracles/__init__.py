"""Independent gradient oracles for refgrad: SymPy symbolic differentiation and finite
differences, which share no derivative rule with the engine, and the comparison of the
three. The oracles know each op only by its forward meaning (``oracles.ops``)."""
