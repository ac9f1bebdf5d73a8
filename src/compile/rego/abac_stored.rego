
# Rules whose user set and resource set are both decided at build time, for a stored user and
# a stored instance and a query without attributes of its own: the answers are lookups, so no
# set function is called. (A rule with a set evaluated here finds no answer to look up and is
# left to `granted`.) Its own rule, tried first: OPA's rule index would try a second body of
# `granted` that reads `input.resource.key` after the one that does not.
#
# A query with attributes fails at once, before the lookups. The lookups prove the user's key,
# the type, the key and the action are known strings; the veto checks the rest.
stored_granted if {
	not input.user.attributes
	not input.resource.attributes
	some rule in data.permit.model.abac_rules[input.resource.type][input.action]
	data.permit.model.users[input.user.key].user_sets[rule[0]]
	data.permit.model.instances[input.resource.type][input.resource.key].resource_sets[rule[1]]
	not data.permit.query.vetoed_besides_key
}

# `allow` tries it first (a bare reference comes before the bodies that read `input`), which
# is a cache hit when `root.allow` tried it; when the veto failed it, the general body decides.
allow if stored_granted
