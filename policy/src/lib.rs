//! Fabric policies: signature policies, implicit meta policies, the policy manager and Fabric's policy language.
