# Rego unit tests, as `opa test` runs them (`test_` rules, `with` mocking).
package permit.custom_test

import rego.v1

test_legal_hold_blocks_delete if {
	data.permit.custom.deny with input as {
		"action": "delete",
		"resource": {"type": "document", "key": "roadmap", "attributes": {"legal_hold": true}},
	}
}

test_no_hold_no_veto if {
	not data.permit.custom.deny with input as {
		"action": "delete",
		"resource": {"type": "document", "key": "roadmap", "attributes": {}},
	}
}
