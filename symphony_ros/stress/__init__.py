"""``symphony stress``: a policy run in process under a matrix of single perturbations."""
