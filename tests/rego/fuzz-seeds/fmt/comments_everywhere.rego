# header

package p # pkg comment
# before import
import rego.v1

# one

# two
a := 1 # end of a
allow if { # after brace
  # first line
  input.x == 1 # trailing
  # before close
} # after close
# last
