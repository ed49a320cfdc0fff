"""``assay optimize``: make one function of a user's module faster, with evidence that its behaviour is unchanged.

:mod:`.module` reads the module and the tests file (with ``ast`` only) and
splices a new version of the function in, every other byte kept;
:mod:`.core` gathers inputs and runs the ``optimize`` search of
:mod:`assay.search.efficiency` from the module as it is; :mod:`.cli`
registers the command.
"""
