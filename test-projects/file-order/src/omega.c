omega
