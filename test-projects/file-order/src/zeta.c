zeta
