"""Which numbered item of the semantics reference each conformance test checks.

The reference (docs/reference/pytorch-autograd-semantics.md) states PyTorch's behaviour in
51 numbered items under 13 sections. ``CHECKS`` maps each test of the suite that checks
one (by file, then test function) to the items it checks; a test of the suite that is not
listed checks behaviour beyond the items (bad input, autograd.functional, ...). An item no
test checks is a gap. tests/test_conformance.py verifies that every listed test and item
exists and that the table in docs/conformance.md is the one generated here; regenerate it
with ``python -m properties.coverage --write``.
"""

from __future__ import annotations

import ast
import functools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference" / "pytorch-autograd-semantics.md"
DOC = ROOT / "docs" / "conformance.md"
SEMANTICS = ROOT / "docs" / "semantics.md"
TABLE_BEGIN, TABLE_END = "<!-- coverage table: begin -->", "<!-- coverage table: end -->"

# fmt: off
CHECKS: dict[str, dict[str, tuple[int, ...]]] = {
    "tests/test_semantics_graph.py": {
        "test_user_created_tensor_requiring_grad_is_leaf_without_grad_fn": (1,),
        "test_tensor_without_grad_is_leaf": (1,),
        "test_results_of_ops_on_plain_tensors_are_leaves": (1,),
        "test_output_requires_grad_iff_some_input_does": (2,),
        "test_output_does_not_require_grad_when_grad_mode_is_off": (2,),
        "test_comparisons_argmax_and_integer_casts_do_not_require_grad": (2,),
        "test_grad_fn_class_name": (3,),
        "test_scalar_divided_by_tensor_goes_through_reciprocal": (3, 4),
        "test_next_functions_of_two_leaves_are_their_accumulate_grad_nodes": (4,),
        "test_a_leaf_used_twice_has_one_accumulate_grad_node": (4,),
        "test_accumulate_grad_variable_of_2d_leaf": (4,),
        "test_plain_tensor_or_python_scalar_operand_is_none_edge": (4,),
        "test_ops_with_one_tensor_input_have_one_edge": (4,),
        "test_next_functions_link_to_the_inputs_grad_fn": (4,),
        "test_next_functions_of_a_nested_expression": (4,),
        "test_grad_fn_name_returns_the_class_name": (4,),
        "test_accumulate_grad_name": (4,),
        "test_float_on_float32_returns_the_same_tensor": (5,),
        "test_double_is_a_differentiable_copy": (5,),
        "test_grad_is_none_after_to_trap": (5,),
    },
    "tests/test_semantics_backward.py": {
        "test_grad_is_none_before_any_backward": (6,),
        "test_non_scalar_output_needs_gradient": (7,),
        "test_any_one_element_output_is_accepted": (7,),
        "test_gradient_must_have_exactly_the_output_shape": (8,),
        "test_mismatch_message_of_the_reference": (8,),
        "test_gradient_dtype_mismatch_is_not_an_error": (8,),
        "test_list_holding_a_float_as_gradient": (8,),
        "test_list_holding_a_float_as_gradient_of_scalar": (8,),
        "test_bare_float_as_gradient": (8,),
        "test_second_backward_through_freed_graph_raises": (9,),
        "test_graph_without_saved_tensors_can_be_replayed": (9,),
        "test_retain_graph_allows_a_second_backward_that_accumulates": (9,),
        "test_retain_graph_with_explicit_gradient": (9,),
        "test_retain_graph_defaults_to_create_graph": (9,),
        "test_grad_accumulates_across_backward_calls": (10,),
        "test_accumulation_is_in_place": (10,),
        "test_accumulation_with_create_graph_is_out_of_place": (10,),
        "test_after_grad_none_the_next_backward_creates_a_new_tensor": (10,),
        "test_grad_never_aliases_the_gradient_argument": (10,),
        "test_retained_grad_never_aliases_the_gradient_argument": (10, 12),
        "test_reading_grad_of_non_leaf_warns_and_returns_none": (11,),
        "test_non_leaf_warning_is_issued_on_every_read": (11,),
        "test_no_warning_for_leaves_and_retained_non_leaves": (11,),
        "test_retain_grad_populates_non_leaf_grad_and_accumulates": (12,),
        "test_retain_grad_on_a_leaf_is_a_no_op": (12,),
        "test_retain_grad_on_tensor_without_grad": (12,),
        "test_backward_on_tensor_without_grad": (13,),
        "test_backward_with_gradient_on_tensor_without_grad": (13,),
        "test_backward_on_result_computed_under_no_grad": (13,),
        "test_backward_inputs_restricts_accumulation": (14,),
        "test_backward_inputs_cannot_be_empty": (14,),
        "test_unused_leaf_keeps_grad_none": (15,),
        "test_multiplying_by_zero_gives_zeros_not_none": (15,),
        "test_backward_of_an_element_gives_a_dense_gradient": (15,),
        "test_duplicate_indices_accumulate": (15,),
        "test_reused_non_leaf_sums_all_paths": (16,),
        "test_deep_diamond_needs_topological_order": (16,),
        "test_non_leaf_used_by_short_and_long_paths": (16,),
        "test_long_chain_does_not_recurse": (16,),
    },
    "tests/test_semantics_autograd_grad.py": {
        "test_grad_returns_a_tuple": (17,),
        "test_grad_of_several_inputs_returns_a_tuple_in_input_order": (17,),
        "test_grad_has_the_shape_and_dtype_of_its_input": (17,),
        "test_grad_never_writes_grad_of_inputs_or_other_leaves": (17,),
        "test_grad_leaves_an_existing_grad_untouched": (17,),
        "test_grad_does_not_accumulate_across_calls": (17,),
        "test_grad_results_do_not_require_grad_without_create_graph": (17,),
        "test_grad_results_require_grad_with_create_graph": (17, 22),
        "test_unused_input_raises": (18,),
        "test_unused_input_at_a_later_index": (18,),
        "test_unused_input_with_allow_unused_gives_none": (18,),
        "test_input_that_is_a_leaf_used_by_another_branch_only_is_unused": (18,),
        "test_unused_input_with_materialize_grads_gives_zeros": (18,),
        "test_materialize_grads_with_allow_unused_true": (18,),
        "test_input_that_does_not_require_grad": (19,),
        "test_input_computed_under_no_grad_does_not_require_grad": (19,),
        "test_output_that_does_not_require_grad": (19,),
        "test_second_output_that_does_not_require_grad": (19,),
        "test_several_outputs_are_summed": (20,),
        "test_several_outputs_with_grad_outputs": (20,),
        "test_several_outputs_sharing_a_subgraph": (20,),
        "test_none_in_grad_outputs_stands_for_one_of_a_scalar": (20,),
        "test_fewer_grad_outputs_than_outputs": (20,),
        "test_several_outputs_without_grad_outputs_must_be_scalars": (20,),
        "test_graph_is_freed_after_grad": (21,),
        "test_backward_after_grad_raises": (21,),
        "test_grad_after_backward_raises": (21,),
        "test_retain_graph_keeps_the_graph_for_the_next_call": (21,),
        "test_retain_graph_defaults_to_create_graph": (21,),
        "test_freeing_is_only_for_the_differentiated_part": (21,),
        "test_graph_without_saved_tensors_can_be_replayed": (21,),
        "test_backward_inputs_forms": (14,),
        "test_backward_inputs_accumulate": (14,),
        "test_backward_inputs_with_a_non_leaf_populates_its_grad": (14,),
        "test_backward_inputs_unused_leaf_keeps_none": (14,),
        "test_backward_inputs_with_explicit_gradient": (14,),
        "test_backward_inputs_empty": (14,),
        "test_autograd_backward_non_scalar_without_grad_tensors": (7,),
        "test_autograd_backward_retain_graph": (9,),
        "test_autograd_backward_inputs": (14,),
        "test_autograd_backward_inputs_empty": (14,),
        "test_autograd_backward_tensor_without_grad": (13,),
    },
    "tests/test_semantics_higher_order.py": {
        "test_derivatives_match_sympy": (22,),
        "test_create_graph_makes_gradients_differentiable": (22,),
        "test_without_create_graph_the_gradient_cannot_be_differentiated": (22,),
        "test_constant_gradient_does_not_require_grad": (22,),
        "test_variable_gradient_requires_grad": (22,),
        "test_gradient_through_y_only_requires_grad_for_y": (22,),
        "test_mixed_partials_of_x_y_sin_x": (22,),
        "test_x_cubed_first_second_third": (23,),
        "test_backward_through_a_gradient_made_with_create_graph": (23,),
        "test_first_and_second_derivative_at_a_point": (23,),
        "test_sin_derivatives_cycle": (23,),
        "test_grad_with_create_graph_inside_no_grad_builds_a_graph": (24,),
        "test_grad_without_create_graph_inside_enable_grad_builds_no_graph": (24,),
        "test_backward_inside_no_grad_on_a_graph_built_outside": (24,),
        "test_backward_with_create_graph_inside_no_grad": (24,),
        "test_grad_mode_inside_hooks_equals_create_graph": (24,),
    },
    "tests/test_semantics_grad_mode.py": {
        "test_grad_is_enabled_by_default": (25,),
        "test_no_grad_results_are_untracked_leaves": (25,),
        "test_no_grad_values_are_computed": (25,),
        "test_nested_no_grad_keeps_grad_off_until_outermost_exit": (25,),
        "test_no_grad_restores_after_an_exception": (25,),
        "test_no_grad_decorated_function_restores_after_an_exception": (25, 26),
        "test_enable_grad_inside_no_grad_tracks": (26,),
        "test_enable_grad_restores_after_an_exception": (26,),
        "test_enable_grad_decorator_tracks_inside_no_grad": (26,),
        "test_no_grad_as_decorator": (26,),
        "test_no_grad_decorator_on_generator_function": (26,),
        "test_enable_grad_decorator_on_generator_function": (26,),
        "test_no_grad_generator_restores_after_an_exception": (26,),
        "test_set_grad_enabled_as_plain_function_takes_effect_immediately": (27,),
        "test_set_grad_enabled_true_as_plain_function_inside_no_grad": (27,),
        "test_set_grad_enabled_context_manager": (27,),
        "test_set_grad_enabled_context_manager_restores_previous_mode": (27,),
        "test_set_grad_enabled_restores_after_an_exception": (27,),
        "test_thread_started_inside_no_grad_has_grad_enabled": (28,),
        "test_set_grad_enabled_in_a_thread_does_not_affect_main_thread": (28,),
        "test_no_grad_held_by_another_thread_does_not_affect_main_thread": (28,),
        "test_leaf_requiring_grad_can_be_created_inside_no_grad": (29,),
        "test_in_place_update_of_leaf_inside_no_grad_is_allowed_and_bumps_version": (29,),
        "test_optimizer_step_pattern": (29,),
        "test_view_made_under_no_grad_requires_grad_as_a_new_leaf": (25, 29),
    },
    "tests/test_semantics_threads.py": {
        "test_thread_started_inside_a_mode_has_default_modes": (28, 30),
        "test_thread_started_after_set_grad_enabled_false_has_grad_enabled": (28,),
        "test_set_grad_enabled_false_in_a_thread_does_not_leak": (28,),
        "test_mode_held_by_another_thread_does_not_affect_main_thread": (28, 30),
        "test_mode_in_one_thread_while_another_tracks_concurrently": (28, 30),
        "test_backward_in_one_thread_while_the_other_builds_graphs": (24, 28),
    },
    "tests/test_semantics_inference.py": {
        "test_grad_mode_turned_on_inside_inference_mode_records_nothing": (30,),
        "test_backward_inside_inference_mode_makes_an_inference_grad": (30,),
        "test_failed_in_place_update_of_inference_tensor_leaves_it_changed": (30,),
        "test_detach_of_inference_tensor_taken_outside_can_be_updated_in_place": (30,),
        "test_modes_inside_and_after": (30,),
        "test_ordinary_tensors_are_not_inference_tensors": (30,),
        "test_results_inside_are_inference_tensors": (30,),
        "test_nested_inference_mode_false_restores_tracking": (30,),
        "test_inference_mode_false_turns_grad_on_even_inside_no_grad": (30,),
        "test_inference_mode_restores_after_an_exception": (30,),
        "test_inference_mode_as_decorator": (30,),
        "test_inference_mode_false_as_decorator_inside_inference_mode": (30,),
        "test_inference_mode_decorator_on_generator_function": (30,),
        "test_outer_no_grad_does_not_change_inference_tensors": (30,),
        "test_inference_tensor_saved_for_backward_raises": (30,),
        "test_inference_tensor_saved_inside_inference_mode_false_raises": (30,),
        "test_inference_tensor_without_grad_partner_is_not_saved": (30,),
        "test_op_that_saves_nothing_works_with_an_inference_tensor": (30,),
        "test_result_computed_from_an_inference_tensor_can_be_saved": (30,),
        "test_requires_grad_on_inference_tensor_outside": (30,),
        "test_requires_grad_on_inference_tensor_inside_inference_mode_is_allowed": (30,),
        "test_in_place_on_inference_tensor_outside_raises": (30,),
        "test_in_place_on_view_of_inference_tensor_outside_raises": (30,),
        "test_in_place_on_inference_tensor_inside_inference_mode_is_allowed": (30,),
        "test_clone_outside_gives_a_normal_tensor": (30,),
        "test_clone_inside_inference_mode_is_an_inference_tensor": (30,),
        "test_detach_of_inference_tensor_is_an_inference_tensor": (30,),
        "test_views_of_inference_tensors_are_inference_tensors": (30,),
        "test_normal_tensor_updated_in_place_inside_stays_normal": (30,),
        "test_view_of_normal_tensor_made_inside_is_a_normal_view": (30,),
        "test_view_of_leaf_requiring_grad_made_inside_is_a_normal_new_leaf": (30,),
        "test_leaf_requiring_grad_used_and_updated_inside": (30,),
    },
    "tests/test_semantics_detach.py": {
        "test_detach_is_a_leaf_without_grad": (31,),
        "test_writes_to_the_detached_tensor_show_in_the_original": (31,),
        "test_writes_to_the_original_show_in_the_detached_tensor": (31,),
        "test_detach_shares_the_version_counter": (31, 36),
        "test_detach_cuts_the_graph": (31,),
        "test_requires_grad_false_on_non_leaf_raises": (32,),
        "test_assigning_requires_grad_false_on_non_leaf_raises": (32,),
        "test_requires_grad_true_on_non_leaf_that_requires_grad_is_no_change": (32,),
        "test_requires_grad_underscore_returns_self": (32,),
        "test_requires_grad_attribute_on_leaf": (32,),
        "test_assigning_grad_of_wrong_shape": (33,),
        "test_assigning_grad_of_wrong_shape_reference_text": (33,),
        "test_assigning_non_tensor_grad": (33,),
        "test_assigned_grad_is_kept_and_accumulated_into": (33, 10),
        "test_no_grad_result_made_to_require_grad_is_a_new_leaf": (34,),
        "test_detach_then_requires_grad_is_a_new_leaf": (34,),
    },
    "tests/test_semantics_inplace.py": {
        "test_inplace_op_writes_returns_self_and_bumps_version": (36,),
        "test_augmented_assignment_is_in_place": (36,),
        "test_augmented_assignment_statements_keep_the_object": (36,),
        "test_version_starts_at_zero": (36,),
        "test_version_counts_each_inplace_op": (36,),
        "test_views_share_the_version_counter": (36,),
        "test_detach_shares_the_version_counter_and_inplace_through_it_is_allowed": (31, 36),
        "test_failed_inplace_on_leaf_leaves_value_and_version": (35, 36),
        "test_inplace_on_leaf_that_requires_grad_raises": (35,),
        "test_plus_equals_statement_on_leaf_raises": (35,),
        "test_inplace_on_view_of_leaf_that_requires_grad_raises": (35,),
        "test_item_assignment_statement_on_leaf_raises": (35,),
        "test_inplace_on_leaf_is_allowed_under_no_grad": (29, 35),
        "test_optimizer_step_then_new_backward": (29,),
        "test_modifying_a_saved_output_raises_at_backward": (37,),
        "test_ver_message_for_exp_reference_text": (37,),
        "test_modifying_the_input_of_an_op_that_saves_its_output_is_fine": (37,),
        "test_modifying_a_saved_input_raises_at_backward": (37,),
        "test_modifying_the_output_of_an_op_that_saves_its_input_is_fine": (37,),
        "test_saved_input_modified_names_the_inplace_node": (37,),
        "test_mul_saves_both_operands_when_both_require_grad": (37,),
        "test_mul_by_plain_tensor_saves_only_the_plain_operand": (37,),
        "test_mul_by_plain_tensor_modified_raises": (37,),
        "test_add_and_sub_save_nothing": (37,),
        "test_modifying_a_leaf_input_of_add_under_no_grad_is_fine": (37,),
        "test_error_is_raised_even_if_the_modification_is_undone": (37,),
        "test_item_assignment_into_a_saved_non_leaf_raises_at_backward": (37,),
        "test_inplace_on_non_leaf_rebases_grad_fn_reference_example": (38,),
        "test_inplace_on_non_leaf_gradients": (38,),
        "test_inplace_on_non_leaf_grad_fn_name": (38,),
        "test_augmented_assignment_on_non_leaf": (38,),
        "test_augmented_assignment_with_a_tensor_that_requires_grad": (38,),
        "test_inplace_mul_by_tensor_that_requires_grad_keeps_what_it_needs": (38,),
        "test_inplace_mul_by_tensor_twice": (38,),
        "test_inplace_mul_then_modifying_the_other_operand_raises": (37, 38),
        "test_inplace_exp_saves_its_own_output_after_the_bump": (38,),
        "test_exp_then_inplace_exp_raises": (37, 38),
        "test_inplace_exp_twice_raises_with_versions": (37, 38),
        "test_copy_from_a_tensor_that_requires_grad_into_non_leaf": (38,),
        "test_plain_tensor_becomes_non_leaf_when_an_inplace_op_uses_a_tensor_that_requires_grad": (38,),
        "test_item_assignment_into_non_leaf": (38,),
        "test_slice_assignment_of_a_plain_tensor_into_non_leaf": (38,),
        "test_advanced_index_assignment_into_non_leaf": (38,),
        "test_mask_assignment_from_a_comparison_into_non_leaf": (38,),
        "test_assigning_a_tensor_that_requires_grad_into_non_leaf": (38,),
        "test_inplace_on_slice_of_non_leaf": (38,),
        "test_inplace_on_kept_view_of_non_leaf_updates_the_base_history": (38,),
        "test_backward_from_an_inplace_modified_view": (38,),
        "test_zero_on_element_of_non_leaf": (38,),
        "test_inplace_on_reshaped_view_of_non_leaf": (38,),
        "test_modifying_a_saved_leaf_under_no_grad_raises_at_backward": (39,),
        "test_item_assignment_into_a_saved_leaf_under_no_grad_raises_at_backward": (39,),
        "test_modifying_a_saved_leaf_through_detach_raises_at_backward": (39,),
    },
    "tests/test_semantics_edge_cases.py": {
        "test_retained_grad_follows_an_inplace_operation": (12, 38),
        "test_view_taken_before_an_inplace_op_on_its_base": (38,),
        "test_results_computed_before_the_inplace_op_keep_their_gradient": (38,),
        "test_a_functions_saved_output_is_differentiable_again": (44,),
    },
    "tests/test_semantics_broadcast.py": {
        "test_four_way_broadcast_example": (40,),
        "test_four_way_broadcast_distinct_values": (40,),
        "test_binary_grad_has_input_shape": (40,),
        "test_kept_size_one_dim_is_not_dropped": (40,),
        "test_zero_d_input_gets_zero_d_grad": (40,),
        "test_zero_d_only_graph": (40,),
        "test_one_element_1d_stays_1d": (40,),
        "test_broadcast_input_also_used_directly": (40,),
        "test_expand_and_broadcast_to_sum_back": (40,),
        "test_batched_matmul_sums_weight_grad_over_batch": (40,),
        "test_sum_keepdim_backward_broadcasts_gradient": (41,),
        "test_sum_dim0_keepdim_backward": (41,),
        "test_sum_dim_without_keepdim_backward": (41,),
        "test_sum_keepdim_gradient_must_keep_the_dim": (8, 41),
        "test_mean_all_divides_by_count": (41,),
        "test_mean_dim_divides_by_reduced_count": (41,),
        "test_mean_keepdim_divides_by_reduced_count": (41,),
        "test_mean_3d_dim_count": (41,),
    },
    "tests/test_semantics_hooks.py": {
        "test_leaf_hook_return_value_replaces_the_gradient": (42,),
        "test_leaf_hook_runs_before_accumulation": (42,),
        "test_leaf_hook_returning_none_keeps_the_gradient": (42,),
        "test_register_hook_returns_a_handle_with_remove": (42,),
        "test_non_leaf_hook_changes_what_flows_upstream": (42,),
        "test_non_leaf_hook_returning_none_keeps_the_gradient": (42,),
        "test_non_leaf_hook_zeroing_the_gradient": (42,),
        "test_non_leaf_hook_does_not_populate_grad": (42,),
        "test_hook_may_use_tensors_of_the_graph": (42,),
        "test_non_leaf_used_twice_fires_once_with_the_sum": (42,),
        "test_leaf_used_twice_fires_once_with_the_sum": (42,),
        "test_hooked_sum_reaches_upstream_once": (42,),
        "test_hook_fires_on_every_backward": (42,),
        "test_hook_on_unused_tensor_is_not_called": (42,),
        "test_hooks_chain_in_registration_order": (42,),
        "test_hooks_chain_on_non_leaf": (42,),
        "test_none_in_the_middle_of_a_chain_passes_the_previous_value_on": (42,),
        "test_removed_hook_is_not_called": (42,),
        "test_remove_is_idempotent": (42,),
        "test_remove_after_a_backward": (42,),
        "test_remove_on_non_leaf": (42,),
        "test_retained_grad_sees_the_hooked_value": (12, 42),
        "test_retained_grad_with_hook_returning_none": (12, 42),
        "test_hook_on_tensor_without_grad_raises": (43,),
        "test_hook_on_detached_tensor_raises": (43,),
        "test_hook_on_no_grad_result_raises": (43,),
        "test_hook_changing_the_shape_raises": (43,),
        "test_hook_changing_the_shape_reference_text_for_a_def_function": (43,),
        "test_grad_mode_in_hook_during_plain_backward": (24,),
        "test_grad_mode_in_hook_with_create_graph": (24,),
        "test_grad_mode_in_hook_with_create_graph_inside_no_grad": (24,),
        "test_grad_mode_in_hook_with_autograd_grad_without_create_graph": (24,),
    },
    "tests/test_semantics_function.py": {
        "test_apply_computes_forward_and_records_a_named_node": (44,),
        "test_node_name_follows_the_class_name": (44,),
        "test_backward_through_apply": (44,),
        "test_backward_receives_the_upstream_gradient": (44,),
        "test_saved_tensors_is_a_tuple_of_what_was_saved": (44,),
        "test_needs_input_grad_has_one_flag_per_forward_input": (44,),
        "test_no_input_requires_grad_gives_an_untracked_leaf": (44,),
        "test_apply_under_no_grad_is_untracked": (44,),
        "test_forward_runs_with_grad_disabled": (44,),
        "test_backward_runs_with_grad_mode_equal_to_create_graph": (24, 44),
        "test_non_tensor_argument_gets_none": (44,),
        "test_two_tensor_inputs_only_one_requires_grad": (44,),
        "test_two_outputs_share_one_node_and_both_gradients_arrive": (44,),
        "test_mark_non_differentiable": (44,),
        "test_function_used_several_times_in_one_graph": (44,),
        "test_function_between_ordinary_ops": (44,),
        "test_double_backward_through_a_differentiable_backward": (44,),
        "test_backward_twice_frees_saved_tensors": (9, 44),
        "test_wrong_number_of_gradients": (45,),
        "test_too_few_gradients_counts_non_tensor_inputs": (45,),
        "test_wrong_gradient_shape": (45,),
        "test_save_for_backward_of_a_non_tensor": (45,),
        "test_saved_input_modified_in_place_before_backward": (37, 44),
        "test_saved_leaf_modified_under_no_grad_before_backward": (39, 44),
        "test_saved_output_modified_in_place_before_backward": (37, 44),
        "test_unmodified_saved_tensors_give_no_version_error": (37, 44),
    },
    "tests/test_semantics_dtype.py": {
        "test_int_list_with_requires_grad_is_rejected": (46,),
        "test_explicit_int64_with_requires_grad_is_rejected": (46,),
        "test_bool_with_requires_grad_is_rejected": (46,),
        "test_requires_grad_method_on_int_is_rejected": (46,),
        "test_requires_grad_method_on_bool_is_rejected": (46,),
        "test_default_float_dtype_is_float32": (47,),
        "test_int_list_gives_int64": (47,),
        "test_numpy_float64_input_stays_float64": (47,),
        "test_float32_op_float64_promotes_and_grads_keep_own_dtype": (47,),
        "test_float64_op_float32_promotes_in_either_order": (47,),
        "test_float32_op_python_float_stays_float32": (47,),
        "test_numpy_on_requires_grad_leaf_is_rejected": (48,),
        "test_numpy_on_requires_grad_non_leaf_is_rejected": (48,),
        "test_numpy_after_detach_works": (48,),
        "test_float_on_float32_is_same_object": (5,),
        "test_double_is_differentiable_non_leaf_copy": (5,),
        "test_gradient_at_non_differentiable_point": (49,),
        "test_floor_and_round_have_zero_gradient": (49,),
        "test_clamp_0_1_with_sum_matches_reference_vector": (49,),
        "test_full_reduction_ties_split_evenly": (50,),
        "test_max_over_2d_ties_split_across_rows": (50,),
        "test_amax_amin_dim_ties_split_evenly": (50,),
        "test_max_min_dim_send_all_to_returned_index": (50,),
        "test_maximum_minimum_ties_split_half": (50,),
        "test_where_nan_trap": (51,),
        "test_where_nan_trap_avoided_by_safe_inner_where": (51,),
        "test_logsumexp_gradient_is_softmax": (51,),
        "test_logsumexp_sum_backward_gives_plain_softmax": (51,),
        "test_softmax_gradients_sum_to_zero": (51,),
        "test_softmax_sum_backward_is_zero": (51,),
    },
    "tests/test_bad_input.py": {
        "test_integer_factory_requires_grad": (46,),
        "test_integer_requires_grad_": (46,),
        "test_integer_requires_grad_attribute": (46,),
        "test_numpy_of_tensor_that_requires_grad": (48,),
        "test_backward_of_non_scalar_without_gradient": (7,),
        "test_backward_gradient_of_wrong_shape": (8,),
        "test_backward_gradient_of_wrong_shape_scalar_output": (8,),
        "test_backward_gradient_not_a_tensor": (8,),
        "test_backward_twice": (9,),
        "test_backward_on_tensor_that_does_not_require_grad": (13,),
    },
    "properties/test_accumulation.py": {
        "test_k_backward_passes_give_k_times_the_gradient": (10,),
        "test_resetting_grad_starts_the_sum_again": (10,),
        "test_a_value_used_m_times_gets_the_sum_of_its_paths": (16,),
        "test_autograd_grad_never_touches_grad": (17,),
        "test_a_second_backward_without_retain_graph_fails": (9,),
    },
    "properties/test_grad_modes.py": {
        "test_nested_modes_record_exactly_as_the_model_says_and_restore": (25, 26, 27, 30),
        "test_decorated_generators_hold_their_mode_only_while_running": (26,),
        "test_detach_cuts_exactly_the_detached_path": (31,),
    },
    "properties/test_threads.py": {
        "test_modes_set_in_threads_stay_in_their_threads": (28,),
    },
}
# fmt: on

#: Items whose text in the reference is not exactly what torch 2.13 does; the tests follow torch.
CORRECTIONS: dict[int, str] = {
    4: "`name()` of an AccumulateGrad node is `torch::autograd::AccumulateGrad`, not its class name; "
    "a number operand is an edge `(None, 0)` for add/sub/mul/div but no edge at all for pow, rsub and clamp.",
    10: "with `create_graph=True` accumulation is out of place: `.grad` becomes a new tensor in the graph, "
    "the old one is left alone.",
    17: "with `create_graph=True` a result requires grad only if its backward formula used a tensor that "
    "requires grad (item 22).",
    25: "a view of a tensor that requires grad, taken under no_grad, keeps `requires_grad=True` (a new "
    "leaf without history).",
    35: "item assignment with a mask or an index list (`x[mask] = 0`) writes the leaf itself: the message is "
    "the leaf one, not the view one.",
    37: "mul saves an operand only when the other one requires grad: `a * plain` saves only `plain`.",
}


_SECTION = re.compile(r"^## (\d+\. .+?)\s*(?:\((?!\)).*)?$")  # without "(...)" after the title


@dataclass(frozen=True)
class Item:
    number: int
    section: str  # "2. backward()", "3. autograd.grad"
    text: str


def reference_items(text: str) -> list[Item]:
    """The numbered items of the reference, each with the ``## N. Title`` section it is under."""
    items: list[Item] = []
    section = ""
    for line in text.splitlines():
        if heading := _SECTION.match(line):
            section = heading.group(1)
        elif (item := re.match(r"^(\d+)\. (.+)$", line)) and section:
            items.append(Item(int(item.group(1)), section, item.group(2)))
    return items


def reference_sections(text: str) -> list[str]:
    """The section headings, without what follows their title in parentheses: ``3. autograd.grad``."""
    return [m.group(1) for line in text.splitlines() if (m := _SECTION.match(line))]


def load_reference() -> str:
    return REFERENCE.read_text(encoding="utf-8")


def defined_tests(source: str) -> set[str]:
    """The test functions a test module defines at its top level."""
    return {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def check_problems(checks: Mapping[str, Mapping[str, tuple[int, ...]]], items: list[Item], root: Path) -> list[str]:
    """What is wrong with ``checks``: a file or test that does not exist, an item that the
    reference does not have, a test listed with no item. The empty list if nothing is."""
    numbers = {item.number for item in items}
    problems: list[str] = []
    for path, tests in checks.items():
        file = root / path
        if not file.is_file():
            problems.append(f"{path}: no such file")
            continue
        defined = defined_tests(file.read_text(encoding="utf-8"))
        for test, checked in tests.items():
            problems += [f"{path}::{test}: no such test"] if test not in defined else []
            problems += [f"{path}::{test}: no item listed"] if not checked else []
            problems += [f"{path}::{test}: item {n} is not in the reference" for n in checked if n not in numbers]
    return problems


def tests_of(checks: Mapping[str, Mapping[str, tuple[int, ...]]]) -> dict[int, list[str]]:
    """Item number -> the tests (``file::function``) that check it."""
    found: dict[int, list[str]] = {}
    for path, tests in checks.items():
        for test, checked in tests.items():
            for number in checked:
                found.setdefault(number, []).append(f"{path}::{test}")
    return found


def items_of(test: str) -> tuple[int, ...]:
    """The items a test (``file::function``) checks; () for one beyond the reference's items."""
    path, _, name = test.partition("::")
    return CHECKS.get(path, {}).get(name, ())


def gaps(items: list[Item]) -> list[Item]:
    covered = tests_of(CHECKS)
    return [item for item in items if item.number not in covered]


def _abridged(text: str, limit: int = 90) -> str:
    text = text.replace("|", "\\|")
    return text if len(text) <= limit else text[: text.rfind(" ", 0, limit)] + " …"


def _short(path: str) -> str:
    """``tests/test_semantics_backward.py`` -> ``backward``; ``properties/test_threads.py`` -> ``properties/threads``."""
    folder, _, name = path.removesuffix(".py").rpartition("/")
    name = name.removeprefix("test_semantics_").removeprefix("test_")
    return name if folder == "tests" else f"{folder}/{name}"


def _cell(tests: list[str]) -> str:
    by_file: dict[str, list[str]] = {}
    for test in tests:
        path, _, name = test.partition("::")
        by_file.setdefault(_short(path), []).append(name.removeprefix("test_"))
    return "<br>".join(f"`{path}`: {', '.join(names)}" for path, names in by_file.items())


def coverage_table(items: list[Item]) -> str:
    """The Markdown table of docs/conformance.md: per item, its statement (abridged), its
    tests, and the correction where the reference is inaccurate; then the gaps."""
    covered = tests_of(CHECKS)
    lines = ["| item | statement (abridged) | tests (`file`: test names without `test_`) |", "|---|---|---|"]
    section = ""
    for item in items:
        if item.section != section:
            section = item.section
            lines.append(f"| **§{section.split('.')[0]}** | **{section.split('. ', 1)[1]}** | |")
        statement = _abridged(item.text)
        if item.number in CORRECTIONS:
            statement += f" *On torch 2.13:* {CORRECTIONS[item.number]}"
        lines.append(f"| {item.number} | {statement} | {_cell(covered.get(item.number, [])) or '**gap: no test**'} |")
    missing = gaps(items)
    total = sum(len(tests) for tests in CHECKS.values())
    lines += [
        "",
        f"{len(items) - len(missing)} of {len(items)} items are checked, by {total} test functions; "
        + (f"gaps: {', '.join(str(i.number) for i in missing)}." if missing else "no item is a gap."),
    ]
    return "\n".join(lines)


@functools.cache
def _parsed(file: Path) -> ast.Module:
    return ast.parse(file.read_text(encoding="utf-8"))


def deviations(root: Path = ROOT) -> dict[str, str]:
    """``file::function`` -> the reason of its ``@pytest.mark.deviation(...)`` marker, for the
    tests of ``CHECKS`` (read from the sources)."""
    found: dict[str, str] = {}
    for path in CHECKS:
        module = _parsed(root / path)
        strings = {  # module-level NAME = "text", for reasons given by name
            target.id: node.value.value
            for node in module.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for function in (node for node in module.body if isinstance(node, ast.FunctionDef)):
            for decorator in function.decorator_list:
                if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute) and decorator.func.attr == "deviation":
                    reason = decorator.args[0]
                    text = reason.value if isinstance(reason, ast.Constant) else strings.get(getattr(reason, "id", ""))
                    found[f"{path}::{function.name}"] = str(text) if text is not None else "(see the test)"
    return found


def _test_lines(root: Path = ROOT) -> dict[str, int]:
    """``file::function`` -> the line its definition starts on."""
    return {
        f"{path}::{node.name}": node.lineno
        for path in CHECKS
        for node in _parsed(root / path).body
        if isinstance(node, ast.FunctionDef)
    }


def semantics_body(items: list[Item]) -> str:
    """The generated part of docs/semantics.md: per item of the reference, its statement,
    refgrad's parity with PyTorch 2.13 (same, or the deviation and its reason) and links to
    the tests that check it."""
    covered, deviating, lines_of = tests_of(CHECKS), deviations(), _test_lines()
    lines: list[str] = []
    section = ""
    for item in items:
        if item.section != section:
            section = item.section
            lines += [f"### {section}", ""]
        tests = covered.get(item.number, [])
        reasons = sorted({deviating[t] for t in tests if t in deviating})
        parity = "**parity: refgrad deviates** — " + "; ".join(reasons) if reasons else "parity: as PyTorch 2.13"
        lines.append(f"**{item.number}.** {item.text}")
        if item.number in CORRECTIONS:
            lines += ["", f"*On torch 2.13 (what the tests check):* {CORRECTIONS[item.number]}"]
        links = ", ".join(
            f"[`{_short(t.partition('::')[0])}::{t.partition('::')[2].removeprefix('test_')}`](../{t.partition('::')[0]}#L{lines_of[t]})"
            for t in tests
        )
        lines += ["", f"{parity}. Tests: {links or '**none (a gap)**'}", ""]
    return "\n".join(lines).rstrip("\n")


def _table_span(doc: str) -> tuple[int, int]:
    begin, end = doc.index(TABLE_BEGIN) + len(TABLE_BEGIN), doc.index(TABLE_END)
    return begin, end


def documented_table(doc: str) -> str:
    begin, end = _table_span(doc)
    return doc[begin:end].strip("\n")


def with_table(doc: str, table: str) -> str:
    begin, end = _table_span(doc)
    return f"{doc[:begin]}\n{table}\n{doc[end:]}"


def main(argv: list[str]) -> int:
    """``python -m properties.coverage``: print the table; ``--write``: put it in
    docs/conformance.md and the per-item page in docs/semantics.md."""
    if argv not in ([], ["--write"]):
        print("usage: python -m properties.coverage [--write]", file=sys.stderr)
        return 2
    items = reference_items(load_reference())
    table = coverage_table(items)
    if argv:
        DOC.write_text(with_table(DOC.read_text(encoding="utf-8"), table), encoding="utf-8")
        SEMANTICS.write_text(with_table(SEMANTICS.read_text(encoding="utf-8"), semantics_body(items)), encoding="utf-8")
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
