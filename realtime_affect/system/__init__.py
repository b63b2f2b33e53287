"""How this process uses the machine: cores, thread counts and idle priority; native libraries' stderr."""
