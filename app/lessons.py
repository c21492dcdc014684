"""The Lessons page's guided path: (title, page, page file ("" = always there), what it shows, one thing to
try, the deep link's URL query). Every link is checked by tests/test_app.py to open its page with values that
page accepts."""

STEPS = [
    ("Ising as an EFNN", "", "",
     "The Ising energy is a sum over pairs, yet it can be rewritten as a sum of independent quasi-particles sᵢφᵢ in an "
     "effective field φᵢ. The hand-built one-layer EFNN computes exactly that.",
     "Flip one spin in the middle of the ferromagnet: which four quasi-particles change, and by how much?",
     "preset=ferromagnet&seed=0"),
    ("The double exchange lattice", "lattice_lab", "",
     "Electrons hopping on a lattice of classical spins: the exact energy needs a full diagonalization, which grows "
     "like L⁶. Trained networks give it in a fraction of a millisecond.",
     "Draw a domain wall, then rotate all spins: the exact energy stays, and so do the EFNN's.",
     "system=double_exchange&preset=domain_wall"),
    ("Train and compare", "train", "",
     "Train an EFNN and a DNN side by side on the same data. Step one batch at a time to watch the first moves, "
     "then play.",
     "Which reaches a relative error of 3×10⁻³ first on the seconds axis?", "archs=efnn,dnn&epochs=30&axis=seconds"),
    ("Look inside", "lattice_lab", "",
     "An EFNN's layers are effective fields Fⱼ and quasi-particles Sⱼ; its site energies add up to E. Ordered "
     "textures leave visible structure in these maps.",
     "Choose the skyrmion preset and compare the site-energy map of the core with the background.",
     "system=double_exchange&preset=skyrmion&L=16"),
    ("Generalize to 40×40", "generalization", "",
     "Networks trained on 10×10 lattices are evaluated on 40×40 without retraining. The relative error of the total "
     "falls like 1/L even at fixed local accuracy.",
     "Compare the left and right panels: which curve is flat, and why?", ""),
    ("Monte Carlo with the network", "monte_carlo", "monte_carlo.py",
     "In self-learning Monte Carlo the network proposes a whole sweep of moves cheaply, and one exact "
     "diagonalization accepts or rejects where they led: the chain samples the exact distribution whatever the "
     "network, and a better network only raises the acceptance.",
     "Press Play for a minute: do SLMC and ED-Metropolis agree within 3σ, and which has more effective samples per "
     "second?", "L=6&surrogate=de_effective_translation_mc"),
    ("When is a network worth it?", "methods", "methods.py",
     "Exact diagonalization, the Schrieffer–Wolff expansion, the kernel polynomial method and the networks, timed "
     "on the same configurations: each buys accuracy with time differently, and the lattice size decides which "
     "is on the Pareto front.",
     "Press Measure at L = 20, then at L = 40: which methods stay on the front?", "L=20&count=2"),
]


def available(pages_dir) -> list[tuple]:
    """The steps whose page exists in ``pages_dir`` (app/app_pages)."""
    from pathlib import Path

    return [s for s in STEPS if not s[2] or (Path(pages_dir) / s[2]).exists()]
