Console.WriteLine("Booking.AppHost: see README.md");
