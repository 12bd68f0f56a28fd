"""The lecture note's example: build Q = 3a³ - b², look at its graph, backpropagate.

    python docs/examples/seed.py
"""

import refgrad as rg

a = rg.tensor([2.0, 3.0], requires_grad=True)
b = rg.tensor([6.0, 4.0], requires_grad=True)
Q = 3 * a**3 - b**2
print("Q =", Q)
print("Q.grad_fn:", Q.grad_fn.name() if Q.grad_fn else None)
print("(a**3).grad_fn:", (a**3).grad_fn.name() if (a**3).grad_fn else None)
Q.backward(gradient=rg.tensor([1.0, 1.0]))  # the same as Q.sum().backward()
print("a.grad =", a.grad, " # dQ/da = 9a² = [36, 81]")
print("b.grad =", b.grad, " # dQ/db = -2b = [-12, -8]")
