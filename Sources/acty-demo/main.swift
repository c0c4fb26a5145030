print("acty-demo")
