"""Running the Pulumi program under mocks, and reading back what it declared.

The one way the offline preview, the policy pack's offline runner and the
tests run the program: :func:`run_stack` runs it for a committed stack file,
:func:`run_program` runs any callable that declares resources; both return a
:class:`StackRun` of :class:`RecordedResource` s. :mod:`simulation.mocks`
answers as AWS would, :mod:`simulation.refs` follows ids and ARNs between
recorded resources.
"""
