"""A third-party engine as the conformance suite sees it: refgrad under another name, with
its own list of deviations (refgrad's ``deviation`` markers do not apply to it). The tests
select it as ``--engine fake_engine`` with tests/ on PYTHONPATH; test_accumulate_grad_name
is listed on purpose though the fake engine passes it, so that the listed deviation fails
(a deviation must fail)."""

from properties.engines import ModuleAdapter

ENGINE = ModuleAdapter(
    name="fake",
    module_name="refgrad",
    deviations={
        "tests/test_semantics_inference.py::test_detach_of_inference_tensor_taken_outside_can_be_updated_in_place": (
            "fake refuses to update a detach() of an inference tensor in place, as refgrad does"
        ),
        "tests/test_semantics_graph.py::test_accumulate_grad_name": "fake lists a deviation it does not have",
    },
)
