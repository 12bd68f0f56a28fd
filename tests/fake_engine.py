"""A third-party engine as the conformance suite sees it: refgrad under another name, with
its own list of deviations (refgrad's ``deviation`` markers do not apply to it). The tests
select it as ``--engine fake_engine`` with tests/ on PYTHONPATH; test_accumulate_grad_name
is left off the list on purpose, so that the fake engine fails it."""

from properties.engines import ModuleAdapter

ENGINE = ModuleAdapter(
    name="fake",
    module_name="refgrad",
    deviations={
        "tests/test_semantics_inference.py::test_detach_of_inference_tensor_taken_outside_can_be_updated_in_place": (
            "fake refuses to update a detach() of an inference tensor in place, as refgrad does"
        ),
    },
)
