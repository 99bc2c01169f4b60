package p
import rego.v2
allow if { not { input.x; input.y } }
