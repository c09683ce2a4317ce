#!/usr/bin/env python3
# Generates the KECCAK_ROUND macro in fips202.c (lane-complemented
# Keccak-f[1600] rounds with pi folded into the read order). Prints the macros;
# on stderr, the NOT-equivalent operations per round and whether the
# complement pattern is stable across two rounds. Usage: gen_keccak_rounds.py
import itertools, sys
r = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14]
P = set(int(x) for x in sys.argv[1].split(',')) if len(sys.argv) > 1 else {1, 2, 8, 12, 17, 20}
L = lambda p, i: f"{p}{i:02d}"

def row_plan(f, t):
    # f: input flags of B0..4, t: wanted output flags. returns (cost, plan)
    best = None
    for S in range(32):
        nots = [(S >> i) & 1 for i in range(5)]
        plan = []
        cost = sum(nots)
        ok = True
        for x in range(5):
            x1, x2 = (x + 1) % 5, (x + 2) % 5
            f1, f2 = f[x1], f[x2]
            opts = []  # (op, left, right, fw) where left/right are ('B'|'N', idx)
            # T = ~b1 & b2, U=B1, V=B2
            if f1 == 1 and f2 == 0: opts.append(('&', ('B', x1), ('B', x2), 0))
            if f1 == 0 and f2 == 1: opts.append(('|', ('B', x1), ('B', x2), 1))
            if f1 == 0 and f2 == 0:
                if nots[x1]: opts.append(('&', ('N', x1), ('B', x2), 0))
                if nots[x2]: opts.append(('|', ('B', x1), ('N', x2), 1))
            if f1 == 1 and f2 == 1:
                if nots[x2]: opts.append(('&', ('B', x1), ('N', x2), 0))
                if nots[x1]: opts.append(('|', ('N', x1), ('B', x2), 1))
            choice = None
            for op, a, b, fw in opts:
                corr = f[x] ^ fw ^ t[x]
                if corr == 0:
                    cand = (0, (op, a, b, ('B', x), 0))
                elif nots[x]:
                    cand = (0, (op, a, b, ('N', x), 0))
                else:
                    cand = (1, (op, a, b, ('B', x), 1))
                if choice is None or cand[0] < choice[0]:
                    choice = cand
            if choice is None:
                ok = False
                break
            cost += choice[0]
            plan.append(choice[1])
        if ok and (best is None or cost < best[0]):
            best = (cost, nots, plan)
    return best

def rnd(src, dst, flags_in):
    o = []
    total = 0
    for x in range(5):
        o.append(f"    c{x} = {L(src,x)} ^ {L(src,x+5)} ^ {L(src,x+10)} ^ {L(src,x+15)} ^ {L(src,x+20)}; \\")
    cC = [sum(flags_in[x + 5 * y] for y in range(5)) % 2 for x in range(5)]
    for x in range(5):
        o.append(f"    d{x} = c{(x+4)%5} ^ ROL64(c{(x+1)%5}, 1); \\")
    cD = [cC[(x + 4) % 5] ^ cC[(x + 1) % 5] for x in range(5)]
    flags_out = [0] * 25
    for Y in range(5):
        f = []
        for X in range(5):
            x = (X + 3 * Y) % 5; y = X; i = x + 5 * y
            rot = r[i]
            e = f"{L(src,i)} ^ d{x}"
            o.append(f"    b{X} = ROL64({e}, {rot}); \\" if rot else f"    b{X} = {e}; \\")
            f.append(flags_in[i] ^ cD[x])
        t = [1 if (X + 5 * Y) in P else 0 for X in range(5)]
        cost, nots, plan = row_plan(f, t)
        total += cost
        for X in range(5):
            if nots[X]:
                o.append(f"    n{X} = ~b{X}; \\")
        nm = lambda v: ('b' if v[0] == 'B' else 'n') + str(v[1])
        for X in range(5):
            op, a, b, base, corr = plan[X]
            expr = f"{nm(base)} ^ ({nm(a)} {op} {nm(b)})"
            if corr:
                expr = f"~({expr})"
            o.append(f"    {L(dst,X+5*Y)} = {expr}; \\")
            flags_out[X + 5 * Y] = t[X]
    return o, total, flags_out

fl = [1 if i in P else 0 for i in range(25)]
# One macro serves both directions (a.. into e.. and back) only if a round
# leaves the complement pattern as it found it.
o, c, f = rnd("from##", "to##", fl)
sys.stderr.write(f"NOT-equivalent ops per round: {c}; flags stable: {f == fl}\n")
print("#define KECCAK_ROUND(from, to, rc) \\")
print("\n".join(o))
print("    to##00 ^= (rc)")
